"""The conductor's own web server for its HTTP root: iPXE scripts, boot files and
cached images, served to machines that boot or download from this conductor.

Starlette's StaticFiles answers Range requests, so downloads resume; it refuses
paths that resolve outside the root, and the MAC links inside it resolve inside.
"""

from __future__ import annotations

import pathlib

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles


def app(root: pathlib.Path) -> Starlette:
    root.mkdir(parents=True, exist_ok=True)
    return Starlette(routes=[Mount("/", StaticFiles(directory=root))])


def server(root: pathlib.Path, host: str, port: int) -> uvicorn.Server:
    config = uvicorn.Config(app(root), host=host, port=port, log_level="warning",
                            access_log=False, lifespan="off", server_header=False,
                            log_config=None)
    return uvicorn.Server(config)
