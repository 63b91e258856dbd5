"""Rendering iPXE scripts from Jinja2 templates: the chain script and per-node configs.

Templates run in a sandboxed environment with StrictUndefined (a misspelt variable is an
error, not an empty string) and no autoescaping: iPXE has no escaping to apply, so every
value is checked before it reaches a template (checks.py), and a finalize hook refuses
any interpolated value with a line break or other control character as a last guard.
Switching a node between deploy and local boot renders another template; nothing ever
edits a rendered file.
"""

from __future__ import annotations

import dataclasses
import functools
import pathlib
import time
from typing import TYPE_CHECKING, Any, Literal

from ingot.boot.checks import (
    check_boot_url,
    check_kernel_token,
    check_name,
    check_node_uuid,
    check_printable,
    check_relative_path,
)
from ingot.boot.errors import BootConfigError, UrlExpiresTooSoon
from ingot.boot.kernel_params import KernelCommandLine
from ingot.boot.sources import BootUrl, ExpiringUrl, as_boot_url, earliest_expiry

# jinja2 is imported with the first script rendered: an API process never renders one.
if TYPE_CHECKING:
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

BootMode = Literal["bios", "uefi"]
BOOT_MODES: tuple[BootMode, ...] = ("bios", "uefi")
ConfigKind = Literal["boot_script", "deploy", "local_boot", "iso_boot"]

TEMPLATES = pathlib.Path(__file__).parent / "templates"
BOOT_SCRIPT_TEMPLATE = "boot.ipxe.j2"
DEPLOY_TEMPLATE = "deploy.ipxe.j2"
LOCAL_BOOT_TEMPLATE = "local_boot.ipxe.j2"
ISO_BOOT_TEMPLATE = "iso_boot.ipxe.j2"

DEFAULT_DEPLOY_ATTEMPTS = 10
DEFAULT_SCRIPT_ATTEMPTS = 3
DEFAULT_RETRY_DELAY = 5
MAX_NICS = 32  # iPXE numbers NICs net0, net1...; no machine has this many


@dataclasses.dataclass(frozen=True, slots=True)
class RenderedConfig:
    """A rendered iPXE script and what the conductor needs to know about it.

    ``expires_at`` is the earliest expiry (Unix time) of the temporary URLs in it, None
    if none expire: the script must be re-rendered with fresh URLs before the machine
    may boot from it again after that time (e.g. before a PXE retry).
    """

    kind: ConfigKind
    text: str = dataclasses.field(repr=False)  # holds temp URL signatures
    boot_mode: BootMode | None = None
    urls: tuple[BootUrl, ...] = ()
    expires_at: float | None = None

    def seconds_left(self, now: float | None = None) -> float | None:
        """Seconds until the first URL in the script expires; None if none expire."""
        if self.expires_at is None:
            return None
        return self.expires_at - (time.time() if now is None else now)

    def usable_for(self, seconds: float, now: float | None = None) -> bool:
        """Whether every URL in the script still works ``seconds`` from now."""
        left = self.seconds_left(now)
        return left is None or left >= seconds


def _finalize(value: Any) -> Any:
    # Last guard: values are checked before rendering, but a line break slipping into
    # a template variable would start a new iPXE command.
    if isinstance(value, str):
        check_printable("template value", value)
    return value


@functools.lru_cache(maxsize=1)
def _environment() -> SandboxedEnvironment:
    import jinja2  # noqa: PLC0415
    from jinja2.sandbox import SandboxedEnvironment  # noqa: PLC0415

    return SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_finalize,
    )


@functools.lru_cache(maxsize=16)
def _override(path: str, mtime_ns: int) -> jinja2.Template:
    # Keyed on mtime so an operator's edited template is picked up without a restart.
    source = pathlib.Path(path).read_text(encoding="utf-8")
    return _environment().from_string(source)


def _template(name: str, override: str | pathlib.Path | None) -> jinja2.Template:
    if override is None:
        return _environment().get_template(name)
    path = pathlib.Path(override)
    try:
        return _override(str(path), path.stat().st_mtime_ns)
    except OSError as exc:
        raise BootConfigError(f"template {path}", f"cannot be read: {exc}") from None


def _render(name: str, override: str | pathlib.Path | None, **values: Any) -> str:
    import jinja2  # noqa: PLC0415

    try:
        text = _template(name, override).render(**values)
    except jinja2.UndefinedError as exc:
        raise BootConfigError(f"template {override or name}", str(exc)) from None
    except jinja2.TemplateSyntaxError as exc:
        raise BootConfigError(f"template {override or name}",
                              f"line {exc.lineno}: {exc.message}") from None
    if not text.startswith("#!ipxe"):
        raise BootConfigError(f"template {override or name}",
                              "the rendered script does not start with #!ipxe")
    if "\r" in text or "\0" in text:
        raise BootConfigError(f"template {override or name}",
                              "the rendered script contains CR or NUL")
    return text


def _check_count(field: str, value: int, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BootConfigError(field, f"must be an integer from {low} to {high}, "
                                     f"not {value!r}")
    return value


def _check_boot_mode(boot_mode: str) -> BootMode:
    if boot_mode not in BOOT_MODES:
        raise BootConfigError("boot_mode", f"{boot_mode!r} is not one of "
                                           f"{', '.join(BOOT_MODES)}")
    return boot_mode


def _fallback(value: str | None) -> str | None:
    if not value:
        return None
    field = "[pxe] ipxe_fallback_script"
    if "://" in value:
        return check_boot_url(field, value)
    return check_relative_path(field, value)


def render_boot_script(*, config_subdir: str = "pxelinux.cfg",
                       attempts: int = DEFAULT_SCRIPT_ATTEMPTS,
                       retry_delay: int = DEFAULT_RETRY_DELAY,
                       fallback_script: str | None = None,
                       template: str | pathlib.Path | None = None) -> RenderedConfig:
    """``boot.ipxe`` for the HTTP root: chains ``<config_subdir>/<mac>`` of the booting
    NIC, then of each other NIC, for ``attempts`` rounds ``retry_delay`` seconds apart;
    then the fallback script (relative path or http URL) if any, else exits to the
    firmware's next boot device. It never loops forever."""
    text = _render(
        BOOT_SCRIPT_TEMPLATE, template,
        config_subdir=check_relative_path("[pxe] pxe_config_subdir", config_subdir),
        attempts=_check_count("boot script attempts", attempts, 1, 100),
        retry_delay=_check_count("boot script retry delay", retry_delay, 0, 3600),
        fallback_script=_fallback(fallback_script),
        max_nics=MAX_NICS,
    )
    return RenderedConfig(kind="boot_script", text=text)


def _command_line(value: KernelCommandLine | str) -> str:
    if isinstance(value, KernelCommandLine):
        for word in value.words:
            if word != "BOOTIF=${mac}":
                check_kernel_token("kernel_params", word)
        return str(value)
    # A plain string is split and checked word by word; BOOTIF is then not added.
    words = []
    for word in (value or "").split(" "):
        if word == "BOOTIF=${mac}":
            words.append(word)
        elif word:
            check_kernel_token("kernel_params", word)
            words.append(word)
    return " ".join(words)


def _check_lifetime(urls: dict[str, BootUrl], valid_for: float | None,
                    now: float | None) -> None:
    if valid_for is None:
        return
    moment = time.time() if now is None else now
    for field, url in urls.items():
        if url.expires_at is not None and url.expires_at < moment + valid_for:
            left = int(url.expires_at - moment)
            raise UrlExpiresTooSoon(
                field, f"the temporary URL expires in {left} s, but this boot "
                       f"configuration must work for {int(valid_for)} s; ask for a longer "
                       f"lifetime or re-render the configuration before the machine "
                       f"boots again")


def render_deploy_config(kernel_url: str | BootUrl | ExpiringUrl,
                         ramdisk_url: str | BootUrl | ExpiringUrl,
                         kernel_params: KernelCommandLine | str, *,
                         node_uuid: str,
                         boot_mode: BootMode = "bios",
                         attempts: int = DEFAULT_DEPLOY_ATTEMPTS,
                         timeout: int = 0,
                         kernel_name: str = "deploy_kernel",
                         initrd_name: str = "deploy_ramdisk",
                         valid_for: float | None = None,
                         now: float | None = None,
                         template: str | pathlib.Path | None = None) -> RenderedConfig:
    """A node's config that boots the deploy ramdisk.

    The kernel and initrd are fetched with ``attempts`` bounded tries (``timeout``
    seconds each, 0 for none; ``[pxe] ipxe_timeout``), then the machine powers off or
    leaves network boot. ``kernel_params`` should come from build_kernel_params (it has
    ``BOOTIF=${mac}`` and ``initrd=<initrd_name>``). With ``valid_for``, temporary URLs
    expiring within that many seconds are refused (UrlExpiresTooSoon).
    """
    urls = {"deploy_kernel URL": as_boot_url(kernel_url),
            "deploy_ramdisk URL": as_boot_url(ramdisk_url)}
    for field, url in urls.items():
        check_boot_url(field, url.url)
    _check_lifetime(urls, valid_for, now)
    mode = _check_boot_mode(boot_mode)
    initrd = check_name("initrd name", initrd_name)
    cmdline = _command_line(kernel_params)
    if f"initrd={initrd}" not in cmdline.split(" "):
        # UEFI kernels find their ramdisk only by this name.
        cmdline = f"{cmdline} initrd={initrd}".strip()
    seconds = _check_count("[pxe] ipxe_timeout", timeout, 0, 86400)
    text = _render(
        DEPLOY_TEMPLATE, template,
        node_uuid=check_node_uuid("node uuid", node_uuid),
        boot_mode=mode,
        kernel_url=urls["deploy_kernel URL"].url,
        ramdisk_url=urls["deploy_ramdisk URL"].url,
        kernel_cmdline=cmdline,
        kernel_name=check_name("kernel name", kernel_name),
        initrd_name=initrd,
        attempts=_check_count("download attempts", attempts, 1, 100),
        timeout_option=f" --timeout {seconds * 1000}" if seconds else "",
    )
    values = tuple(urls.values())
    return RenderedConfig(kind="deploy", text=text, boot_mode=mode, urls=values,
                          expires_at=earliest_expiry(list(values)))


def render_iso_boot_config(iso_url: str | BootUrl | ExpiringUrl, *, node_uuid: str,
                           boot_mode: BootMode = "bios",
                           attempts: int = DEFAULT_DEPLOY_ATTEMPTS,
                           valid_for: float | None = None,
                           now: float | None = None) -> RenderedConfig:
    """A ramdisk instance's config that boots its ISO (instance_info ``boot_iso``) with
    ``sanboot`` over HTTP, ``attempts`` bounded tries. With ``valid_for``, a temporary
    URL expiring within that many seconds is refused (UrlExpiresTooSoon)."""
    url = as_boot_url(iso_url)
    check_boot_url("boot_iso URL", url.url)
    _check_lifetime({"boot_iso URL": url}, valid_for, now)
    mode = _check_boot_mode(boot_mode)
    text = _render(ISO_BOOT_TEMPLATE, None,
                   node_uuid=check_node_uuid("node uuid", node_uuid), boot_mode=mode,
                   iso_url=url.url,
                   attempts=_check_count("download attempts", attempts, 1, 100))
    return RenderedConfig(kind="iso_boot", text=text, boot_mode=mode, urls=(url,),
                          expires_at=earliest_expiry([url]))


def render_local_boot_config(*, node_uuid: str, boot_mode: BootMode = "bios",
                             drive: int = 0x80,
                             template: str | pathlib.Path | None = None) -> RenderedConfig:
    """A node's config once its instance is on the disk.

    BIOS: ``sanboot --no-describe --drive 0x80``, falling back to the firmware if that
    disk does not boot. UEFI: exit to the firmware, whose boot manager starts the disk's
    loader (sanboot's drive numbers are BIOS INT 13h drives).
    """
    mode = _check_boot_mode(boot_mode)
    number = _check_count("local boot drive", drive, 0x80, 0xFF)
    text = _render(LOCAL_BOOT_TEMPLATE, template,
                   node_uuid=check_node_uuid("node uuid", node_uuid),
                   boot_mode=mode, drive=f"{number:#04x}")
    return RenderedConfig(kind="local_boot", text=text, boot_mode=mode)


__all__ = [
    "BOOT_MODES",
    "BootMode",
    "RenderedConfig",
    "render_boot_script",
    "render_deploy_config",
    "render_iso_boot_config",
    "render_local_boot_config",
]
