"""iPXE boot of one node, end to end: what a conductor's boot interface calls.

    boot = IpxeBoot(PxeSettings.from_conf(CONF))
    prepared = boot.prepare_deploy(node, kernel=..., ramdisk=..., ramdisk_params=...)
    ...                                   # power on; before a PXE retry: prepare_deploy again
    boot.prepare_local_boot(node)         # instance written: boot from disk
    boot.clean_up(node.uuid, node.pxe_macs)   # undeploy / node delete

``kernel`` and ``ramdisk`` are each a temporary URL (anything with ``url`` and
``expires_at``, or a BootUrl) or a CachedFile in the image cache. Only the ones given as
URLs skip the HTTP root, so with [pxe] ipxe_use_swift a ramdisk that is not in Swift is
still served locally. Everything is checked and rendered before anything is written: a
refused value leaves the node's previous boot files as they were.
"""

from __future__ import annotations

import dataclasses
import pathlib
import time
from collections.abc import Mapping
from typing import Any

from ingot.boot.errors import BootConfigError
from ingot.boot.files import PlacedFile
from ingot.boot.http_root import HttpRoot, WrittenConfig
from ingot.boot.kernel_params import choose_append_params, node_kernel_params, split_params
from ingot.boot.render import (
    BootMode,
    RenderedConfig,
    render_boot_script,
    render_deploy_config,
    render_iso_boot_config,
    render_local_boot_config,
)
from ingot.boot.settings import PxeSettings
from ingot.boot.sources import BootSource, BootUrl, CachedFile, as_boot_url

DEPLOY_FILES = ("deploy_kernel", "deploy_ramdisk")
INSTANCE_FILES = ("kernel", "ramdisk")
ISO_FILE = "boot_iso"


@dataclasses.dataclass(frozen=True, slots=True)
class NodeBoot:
    """What the boot library needs to know about a node."""

    uuid: str
    pxe_macs: tuple[str, ...]
    instance_info: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    driver_info: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    boot_mode: BootMode = "bios"


@dataclasses.dataclass(frozen=True, slots=True)
class PreparedBoot:
    """What prepare_* wrote and removed. ``expires_at``: see RenderedConfig."""

    config: RenderedConfig
    written: WrittenConfig
    placed: tuple[PlacedFile, ...] = ()
    removed: tuple[pathlib.Path, ...] = ()
    boot_script_written: pathlib.Path | None = None
    kernel_url: BootUrl | None = None
    ramdisk_url: BootUrl | None = None

    @property
    def expires_at(self) -> float | None:
        return self.config.expires_at


class IpxeBoot:
    def __init__(self, settings: PxeSettings) -> None:
        self.settings = settings
        self.http_root = HttpRoot(settings.http_root, config_subdir=settings.config_subdir,
                                  file_mode=settings.file_mode, dir_mode=settings.dir_mode)

    def boot_script(self) -> RenderedConfig:
        # Rendered each time (0.1 ms): an edited template override is picked up.
        return render_boot_script(config_subdir=self.settings.config_subdir,
                                  fallback_script=self.settings.fallback_script,
                                  template=self.settings.boot_script_template)

    def write_boot_script(self) -> pathlib.Path | None:
        """(Re)write boot.ipxe if it differs; the path if written."""
        return self.http_root.write_boot_script(self.boot_script().text)

    def local_url(self, node_uuid: str, label: str) -> str:
        """Where a machine fetches a boot file of the HTTP root."""
        if not self.settings.http_url:
            raise BootConfigError("[deploy] http_url",
                                  "is needed to serve boot files from the HTTP root")
        self.http_root.file_path(node_uuid, label)  # checks uuid and label
        return f"{self.settings.http_url}/{node_uuid}/{label}"

    def _url_for(self, node_uuid: str, label: str, source: BootSource) -> BootUrl:
        if isinstance(source, CachedFile):
            return BootUrl(self.local_url(node_uuid, label))
        return as_boot_url(source)

    def prepare_deploy(self, node: NodeBoot, *, kernel: BootSource, ramdisk: BootSource,
                       ramdisk_params: Mapping[str, str | None],
                       now: float | None = None) -> PreparedBoot:
        """Render and write the node's deploy config; place its cached boot files.

        ``ramdisk_params`` must hold ``ipa-api-url``; the others become extra kernel
        parameters. Temporary URLs must stay valid for settings.url_lifetime_needed
        seconds (else UrlExpiresTooSoon): re-render before that, e.g. before a retry.
        """
        params = dict(ramdisk_params)
        api_url = params.pop("ipa-api-url", None)
        if not api_url:
            raise BootConfigError("ipa-api-url", "the deploy ramdisk needs the API URL")
        cmdline = node_kernel_params(
            ipa_api_url=api_url, instance_info=node.instance_info,
            driver_info=node.driver_info,
            default_append=self.settings.kernel_append_params, extra=params)
        sources = dict(zip(DEPLOY_FILES, (kernel, ramdisk), strict=True))
        for mac in node.pxe_macs:
            self.http_root.mac_link(mac)  # checks the MAC before anything is written
        for label, source in sources.items():
            if isinstance(source, CachedFile) and not source.path.is_file():
                raise BootConfigError(label, f"cached file {source.path} does not exist")
        urls = {label: self._url_for(node.uuid, label, source)
                for label, source in sources.items()}
        config = render_deploy_config(
            urls["deploy_kernel"], urls["deploy_ramdisk"], cmdline, node_uuid=node.uuid,
            boot_mode=node.boot_mode, attempts=self.settings.download_attempts,
            timeout=self.settings.ipxe_timeout,
            valid_for=self.settings.url_lifetime_needed,
            now=time.time() if now is None else now,
            template=self.settings.deploy_template)
        boot_script = self.write_boot_script()
        placed = tuple(self.http_root.place_file(node.uuid, label, source.path)
                       for label, source in sources.items() if isinstance(source, CachedFile))
        # A file that now comes from a URL must not linger from an earlier deploy.
        removed = self.http_root.remove_files(
            node.uuid, [label for label, source in sources.items()
                        if not isinstance(source, CachedFile)])
        written = self.http_root.write_config(node.uuid, config.text, node.pxe_macs)
        return PreparedBoot(config=config, written=written, placed=placed,
                            removed=tuple(removed), boot_script_written=boot_script,
                            kernel_url=urls["deploy_kernel"],
                            ramdisk_url=urls["deploy_ramdisk"])

    def prepare_ramdisk_instance(self, node: NodeBoot, *, kernel: BootSource,
                                 ramdisk: BootSource, valid_for: float | None,
                                 now: float | None = None) -> PreparedBoot:
        """Render and write the config of an instance that boots its kernel and ramdisk
        (instance_info ``kernel``/``ramdisk``) over the network each time; its kernel
        parameters are the node's kernel_append_params, with no agent's. Temporary URLs
        must stay valid ``valid_for`` seconds: re-render before they expire."""
        field, append = choose_append_params(node.instance_info, node.driver_info,
                                             self.settings.kernel_append_params)
        words = split_params(field, append)
        cmdline = " ".join([*words, "initrd=ramdisk"])
        sources = dict(zip(INSTANCE_FILES, (kernel, ramdisk), strict=True))
        for mac in node.pxe_macs:
            self.http_root.mac_link(mac)
        for label, source in sources.items():
            if isinstance(source, CachedFile) and not source.path.is_file():
                raise BootConfigError(label, f"cached file {source.path} does not exist")
        urls = {label: self._url_for(node.uuid, label, source)
                for label, source in sources.items()}
        config = render_deploy_config(
            urls["kernel"], urls["ramdisk"], cmdline, node_uuid=node.uuid,
            boot_mode=node.boot_mode, attempts=self.settings.download_attempts,
            timeout=self.settings.ipxe_timeout, kernel_name="kernel", initrd_name="ramdisk",
            valid_for=valid_for, now=time.time() if now is None else now,
            template=self.settings.deploy_template)
        boot_script = self.write_boot_script()
        placed = tuple(self.http_root.place_file(node.uuid, label, source.path)
                       for label, source in sources.items() if isinstance(source, CachedFile))
        removed = self.http_root.remove_files(
            node.uuid, [*DEPLOY_FILES, ISO_FILE, *(label for label, source in sources.items()
                                                   if not isinstance(source, CachedFile))])
        written = self.http_root.write_config(node.uuid, config.text, node.pxe_macs)
        return PreparedBoot(config=config, written=written, placed=placed,
                            removed=tuple(removed), boot_script_written=boot_script,
                            kernel_url=urls["kernel"], ramdisk_url=urls["ramdisk"])

    def prepare_iso_instance(self, node: NodeBoot, *, iso: BootSource,
                             valid_for: float | None, now: float | None = None
                             ) -> PreparedBoot:
        """Render and write the config of a ramdisk instance that boots its ISO
        (instance_info ``boot_iso``) each time; a cached ISO is served from the HTTP
        root, whose server answers the range requests sanboot makes."""
        for mac in node.pxe_macs:
            self.http_root.mac_link(mac)
        if isinstance(iso, CachedFile) and not iso.path.is_file():
            raise BootConfigError(ISO_FILE, f"cached file {iso.path} does not exist")
        url = self._url_for(node.uuid, ISO_FILE, iso)
        config = render_iso_boot_config(
            url, node_uuid=node.uuid, boot_mode=node.boot_mode,
            attempts=self.settings.download_attempts, valid_for=valid_for,
            now=time.time() if now is None else now)
        boot_script = self.write_boot_script()
        placed = (self.http_root.place_file(node.uuid, ISO_FILE, iso.path),) \
            if isinstance(iso, CachedFile) else ()
        removed = self.http_root.remove_files(
            node.uuid, [*DEPLOY_FILES, *INSTANCE_FILES,
                        *(() if isinstance(iso, CachedFile) else (ISO_FILE,))])
        written = self.http_root.write_config(node.uuid, config.text, node.pxe_macs)
        return PreparedBoot(config=config, written=written, placed=placed,
                            removed=tuple(removed), boot_script_written=boot_script)

    def prepare_local_boot(self, node: NodeBoot) -> PreparedBoot:
        """Re-render the node's config to boot its disk; drop the deploy boot files."""
        config = render_local_boot_config(node_uuid=node.uuid, boot_mode=node.boot_mode,
                                          template=self.settings.local_boot_template)
        boot_script = self.write_boot_script()
        written = self.http_root.write_config(node.uuid, config.text, node.pxe_macs)
        removed = self.http_root.remove_files(node.uuid, DEPLOY_FILES)
        return PreparedBoot(config=config, written=written, removed=tuple(removed),
                            boot_script_written=boot_script)

    def clean_up(self, node_uuid: str, macs: tuple[str, ...] | list[str] = ()
                 ) -> list[pathlib.Path]:
        """Remove the node's config, boot files and MAC links (undeploy, node delete)."""
        return self.http_root.clean_up(node_uuid, macs)
