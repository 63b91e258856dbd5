"""The iPXE boot settings, read once from configuration and checked."""

from __future__ import annotations

import dataclasses
import pathlib

from oslo_config import cfg

from ingot.boot.checks import check_boot_url, check_relative_path
from ingot.boot.errors import BootConfigError

# Clocks of the conductor and of Swift differ a little; a temp URL must outlive the
# boot window by this much.
CLOCK_MARGIN = 60


@dataclasses.dataclass(frozen=True, slots=True)
class PxeSettings:
    http_root: pathlib.Path
    http_url: str | None
    config_subdir: str
    use_swift: bool
    kernel_append_params: str
    ipxe_timeout: int
    download_attempts: int
    boot_script_template: str | None
    deploy_template: str | None
    local_boot_template: str | None
    fallback_script: str | None
    file_mode: int
    dir_mode: int
    boot_retry_timeout: int | None
    deploy_callback_timeout: int

    @classmethod
    def from_conf(cls, conf: cfg.ConfigOpts, http_url: str | None = None) -> PxeSettings:
        """``http_url`` is the default for [deploy] http_url (the lead derives it from
        the address ingot serves the HTTP root on)."""
        pxe, deploy = conf.pxe, conf.deploy
        url = deploy.http_url or http_url
        if url:
            url = check_boot_url("[deploy] http_url", url).rstrip("/")
        retry = pxe.boot_retry_timeout
        callback = conf.conductor.deploy_callback_timeout
        if retry is not None and callback and retry >= callback:
            raise BootConfigError("[pxe] boot_retry_timeout",
                                  f"({retry}) must be less than [conductor] "
                                  f"deploy_callback_timeout ({callback})")
        return cls(
            http_root=pathlib.Path(deploy.http_root),
            http_url=url or None,
            config_subdir=check_relative_path("[pxe] pxe_config_subdir",
                                              pxe.pxe_config_subdir),
            use_swift=pxe.ipxe_use_swift,
            kernel_append_params=pxe.kernel_append_params or "",
            ipxe_timeout=pxe.ipxe_timeout,
            download_attempts=pxe.ipxe_download_attempts,
            boot_script_template=pxe.ipxe_boot_script,
            deploy_template=pxe.ipxe_config_template,
            local_boot_template=pxe.ipxe_local_boot_template,
            fallback_script=pxe.ipxe_fallback_script,
            file_mode=pxe.file_permission,
            dir_mode=pxe.dir_permission,
            boot_retry_timeout=retry,
            deploy_callback_timeout=callback,
        )

    @property
    def url_lifetime_needed(self) -> int | None:
        """Seconds a temporary URL in a deploy config must stay valid, None if no bound.

        The machine may boot from its config until the conductor re-renders it: before
        each PXE retry (boot_retry_timeout) or, without retries, until the deploy
        callback times out. With neither bound (callback timeout 0) no URL lasts long
        enough and the conductor must re-render whenever it power cycles the node.
        """
        window = self.boot_retry_timeout or self.deploy_callback_timeout
        return window + CLOCK_MARGIN if window else None
