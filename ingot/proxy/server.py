"""Serving the proxy with uvicorn: in this process, or in several worker processes."""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

from ingot.common import redaction
from ingot.common.listen import listening_socket
from ingot.proxy.config import ProxyConfig

LOG = logging.getLogger("ingot.proxy")

# How `ingot proxy --workers N` hands its command line to the worker processes.
ARGS_ENV = "INGOT_PROXY_ARGS"
# What a process manager sets instead: comma-separated config files.
CONFIG_ENV = "INGOT_PROXY_CONFIG"


def setup_logging(debug: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    redaction.install()
    # Their request lines carry URLs with query strings; keystoneauth's may carry more,
    # and repeats on every probe what the proxy's own "site is down" line says.
    for noisy in ("httpx", "httpcore", "urllib3", "stevedore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("keystoneauth").setLevel(logging.ERROR)


def args_from_environment() -> list[str]:
    raw = os.environ.get(ARGS_ENV)
    if raw:
        args: list[str] = json.loads(raw)
        return args
    files = [path for path in os.environ.get(CONFIG_ENV, "").split(",") if path.strip()]
    return [arg for path in files for arg in ("--config-file", path.strip())]


def run(config: ProxyConfig, args: list[str], workers: int = 1) -> None:
    """Serve until SIGINT/SIGTERM; raises ListenError first if the port cannot be had."""
    import uvicorn  # noqa: PLC0415 - only when serving
    from uvicorn.supervisors import Multiprocess  # noqa: PLC0415

    settings = config.settings
    # Bound here, once, so a busy port is one line naming the option; the workers
    # inherit the socket.
    sock = listening_socket(settings.host_ip, settings.port, host_option="[api] host_ip",
                            port_option="[api] port")
    # timeout_graceful_shutdown: an open dashboard's event stream never ends by itself;
    # on stop, requests get that long, then are cancelled.
    options: dict[str, Any] = {"log_level": "warning", "access_log": False,
                               "lifespan": "on", "server_header": False,
                               "timeout_graceful_shutdown": 3, "log_config": None}
    LOG.info("ingot proxy listening on http://%s:%s with %d worker(s), sites: %s",
             settings.host_ip, settings.port, workers,
             ", ".join(f"{site.name} ({', '.join(g or '_' for g in site.groups)})"
                       for site in config.sites))
    if workers <= 1:
        from ingot.proxy.app import create_app  # noqa: PLC0415 - loads the whole app

        uvicorn.Server(uvicorn.Config(create_app(config), **options)).run(sockets=[sock])
        return
    # Each worker builds its own app (sites, caches, discovery task) from the same
    # arguments; the config was checked here first, so errors show once, up front.
    os.environ[ARGS_ENV] = json.dumps(args)
    uvicorn_config = uvicorn.Config("ingot.proxy.asgi:application", factory=True,
                                    workers=workers, **options)
    Multiprocess(uvicorn_config, sockets=[sock]).run()
