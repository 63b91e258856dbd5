"""What a booting deploy agent is told: where the Bare Metal API is."""

from __future__ import annotations

from ingot.conf import CONF


def api_url() -> str:
    """[conductor] api_url, or the address the API listens on (loopback for a wildcard)."""
    if CONF.conductor.api_url:
        return str(CONF.conductor.api_url).rstrip("/")
    host = CONF.api.host_ip
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{CONF.api.port}"


def ramdisk_params() -> dict[str, str]:
    """Kernel parameters for the agent ramdisk (the iPXE boot interface renders them)."""
    return {"ipa-api-url": api_url()}
