"""The agent's settings from the kernel command line, as ironic-python-agent reads them
(``ipa-api-url``, ``BOOTIF``, ``ipa-advertise-host``...), for an agent booted from a
ramdisk rather than started with options."""

from __future__ import annotations

import dataclasses
import re

_MAC = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")


class KernelCmdlineError(ValueError):
    """A parameter is missing or malformed; the message names it."""


@dataclasses.dataclass(frozen=True)
class CmdlineSettings:
    api_url: str
    bootif: str | None = None
    advertise_host: str | None = None
    advertise_port: int | None = None
    listen_port: int = 9999
    lookup_timeout: float | None = None  # None: the agent's own default
    inspection_callback_url: str | None = None
    debug: bool = False


def parse(text: str) -> dict[str, str | None]:
    """``key=value`` words as a mapping (the last occurrence wins; bare words map to
    None). Quotes are not interpreted: ingot renders no spaces inside values."""
    params: dict[str, str | None] = {}
    for word in text.split():
        key, sep, value = word.partition("=")
        params[key] = value if sep else None
    return params


def normalize_mac(value: str) -> str:
    """``aa:bb:..`` from iPXE's ``${mac}`` or PXE's ``01-aa-bb-..`` form."""
    mac = value.lower()
    if re.fullmatch(r"01-([0-9a-f]{2}-){5}[0-9a-f]{2}", mac):
        mac = mac[3:].replace("-", ":")
    if not _MAC.match(mac):
        raise KernelCmdlineError(f"BOOTIF={value!r} is not a MAC address")
    return mac


def _port(params: dict[str, str | None], key: str) -> int | None:
    value = params.get(key)
    if value is None:
        return None
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise KernelCmdlineError(f"{key}={value!r} is not a TCP port")
    return int(value)


def settings(text: str) -> CmdlineSettings:
    params = parse(text)
    api_url = params.get("ipa-api-url")
    if not api_url or not api_url.startswith(("http://", "https://")):
        raise KernelCmdlineError("the kernel command line has no ipa-api-url=http(s)://...")
    # iPXE leaves ${mac} unexpanded when it has no NIC to name: then there is no BOOTIF.
    bootif = params.get("BOOTIF")
    timeout = params.get("ipa-lookup-timeout")
    try:
        lookup_timeout = float(timeout) if timeout else None
    except ValueError:
        raise KernelCmdlineError(f"ipa-lookup-timeout={timeout!r} is not seconds") from None
    return CmdlineSettings(
        api_url=api_url.rstrip("/"),
        bootif=normalize_mac(bootif) if bootif and "$" not in bootif else None,
        advertise_host=params.get("ipa-advertise-host") or None,
        advertise_port=_port(params, "ipa-advertise-port"),
        listen_port=_port(params, "ipa-listen-port") or 9999,
        lookup_timeout=lookup_timeout,
        inspection_callback_url=params.get("ipa-inspection-callback-url") or None,
        debug=params.get("ipa-debug", "0") in (None, "1", "true", "True"))
