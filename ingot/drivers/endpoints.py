"""Where machines reach ingot: the API for agents, the HTTP root for booting firmware."""

from __future__ import annotations

from ingot.conf import CONF


def _host() -> str:
    host = CONF.api.host_ip
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def api_url() -> str:
    """[conductor] api_url, or the address the API listens on (loopback for a wildcard)."""
    if CONF.conductor.api_url:
        return str(CONF.conductor.api_url).rstrip("/")
    return f"http://{_host()}:{CONF.api.port}"


def http_url() -> str:
    """[deploy] http_url, or the address this conductor serves its HTTP root on."""
    if CONF.deploy.http_url:
        return str(CONF.deploy.http_url).rstrip("/")
    return f"http://{_host()}:{CONF.deploy.http_port}"


def ramdisk_params() -> dict[str, str]:
    """Kernel parameters of the agent ramdisk: where the Bare Metal API is."""
    return {"ipa-api-url": api_url()}
