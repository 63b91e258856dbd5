"""The proxy as an ASGI application factory, for process managers:

    INGOT_PROXY_CONFIG=/etc/ingot/proxy.conf \
        uvicorn --factory ingot.proxy.asgi:application --workers 4 --port 6385
"""

from __future__ import annotations

from starlette.applications import Starlette

from ingot.proxy import config, server
from ingot.proxy.app import create_app


def application() -> Starlette:
    loaded = config.load(server.args_from_environment())
    server.setup_logging(loaded.settings.debug)
    return create_app(loaded)
