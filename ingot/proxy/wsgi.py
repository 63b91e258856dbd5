"""The proxy as a WSGI application, for ironic-proxy's uWSGI recipe:

    [uwsgi]
    module = ingot.proxy.wsgi
    http = 127.0.0.1:6385
    pyargv = --config-file /etc/ingot/proxy.conf
    enable-threads = true
    processes = 4

The configuration comes from the process's arguments (uWSGI's ``pyargv``), else from
INGOT_PROXY_CONFIG. The proxy is an ASGI application: each worker process runs it on an
event loop in a thread of its own, started on the worker's first request (a loop or
thread made before uWSGI forks would not survive the fork), with its lifespan (site
discovery) running as under uvicorn. Responses are whole JSON documents, buffered.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import http
import os
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from ingot.proxy import config, server

# Longer than any request the proxy makes to its sites (site_timeout), bounded anyway.
_REQUEST_TIMEOUT = 300.0
_STARTUP_TIMEOUT = 120.0

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
AsgiApp = Callable[..., Any]


def _arguments() -> list[str]:
    args = [arg for arg in sys.argv[1:] if arg]
    return args or server.args_from_environment()


def _create() -> AsgiApp:
    from ingot.proxy.app import create_app  # noqa: PLC0415 - built in each worker

    loaded = config.load(_arguments())
    server.setup_logging(loaded.settings.debug)
    return create_app(loaded)


class AsgiToWsgi:
    """A WSGI callable running an ASGI application (with its lifespan) per process."""

    def __init__(self, factory: Callable[[], AsgiApp]):
        self._factory = factory
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._app: AsgiApp | None = None
        self._shutdown: asyncio.Event | None = None

    def _running(self) -> tuple[asyncio.AbstractEventLoop, AsgiApp]:
        with self._lock:
            if self._pid != os.getpid() or self._loop is None or self._app is None:
                self._start()
            assert self._loop is not None and self._app is not None
            return self._loop, self._app

    def _start(self) -> None:
        loop = asyncio.new_event_loop()
        threading.Thread(target=loop.run_forever, name="asgi-loop", daemon=True).start()
        app = self._factory()
        started: concurrent.futures.Future[None] = concurrent.futures.Future()
        shutdown = asyncio.Event()

        async def lifespan() -> None:
            messages = [{"type": "lifespan.startup"}]

            async def receive() -> dict[str, Any]:
                if messages:
                    return messages.pop(0)
                await shutdown.wait()
                return {"type": "lifespan.shutdown"}

            async def send(message: dict[str, Any]) -> None:
                if message["type"] == "lifespan.startup.complete":
                    started.set_result(None)
                elif message["type"] == "lifespan.startup.failed":
                    started.set_exception(RuntimeError(message.get("message") or
                                                       "the proxy failed to start"))

            await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)

        asyncio.run_coroutine_threadsafe(lifespan(), loop)
        started.result(_STARTUP_TIMEOUT)
        self._pid, self._loop, self._app, self._shutdown = os.getpid(), loop, app, shutdown
        atexit.register(self._stop)

    def _stop(self) -> None:
        if self._loop is not None and self._shutdown is not None \
                and self._pid == os.getpid():
            self._loop.call_soon_threadsafe(self._shutdown.set)

    def __call__(self, environ: dict[str, Any],
                 start_response: StartResponse) -> Iterable[bytes]:
        loop, app = self._running()
        length = environ.get("CONTENT_LENGTH") or "0"
        body = environ["wsgi.input"].read(int(length)) if length.isdigit() else b""
        future = asyncio.run_coroutine_threadsafe(
            _call(app, _scope(environ), body), loop)
        status, headers, chunks = future.result(_REQUEST_TIMEOUT)
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = ""
        start_response(f"{status} {reason}".rstrip(),
                       [(name.decode("latin-1"), value.decode("latin-1"))
                        for name, value in headers])
        return [b"".join(chunks)]


def _scope(environ: dict[str, Any]) -> dict[str, Any]:
    # PEP 3333 hands the path over as latin-1-decoded bytes.
    raw_path = environ.get("PATH_INFO", "").encode("latin-1")
    headers = [(key[5:].replace("_", "-").lower().encode("latin-1"),
                value.encode("latin-1"))
               for key, value in environ.items() if key.startswith("HTTP_")]
    for key, name in (("CONTENT_TYPE", b"content-type"), ("CONTENT_LENGTH", b"content-length")):
        if environ.get(key):
            headers.append((name, environ[key].encode("latin-1")))
    port = environ.get("SERVER_PORT") or "80"
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
        "method": environ["REQUEST_METHOD"], "scheme": environ.get("wsgi.url_scheme", "http"),
        "path": raw_path.decode("utf-8", "replace"), "raw_path": raw_path,
        "query_string": environ.get("QUERY_STRING", "").encode("latin-1"),
        "root_path": environ.get("SCRIPT_NAME", ""), "headers": headers,
        "client": (environ.get("REMOTE_ADDR", ""), int(environ.get("REMOTE_PORT") or 0)),
        "server": (environ.get("SERVER_NAME", ""), int(port) if port.isdigit() else 80),
    }


async def _call(app: AsgiApp, scope: dict[str, Any], body: bytes
                ) -> tuple[int, list[tuple[bytes, bytes]], list[bytes]]:
    pending = [{"type": "http.request", "body": body, "more_body": False}]
    done = asyncio.Event()
    response: dict[str, Any] = {"status": 500, "headers": [], "chunks": []}

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop()
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            response["status"] = message["status"]
            response["headers"] = list(message.get("headers") or [])
        elif message["type"] == "http.response.body":
            response["chunks"].append(message.get("body", b""))
            if not message.get("more_body"):
                done.set()

    try:
        await app(scope, receive, send)
    finally:
        done.set()
    return response["status"], response["headers"], response["chunks"]


application = AsgiToWsgi(_create)
