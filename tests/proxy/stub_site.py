"""A stand-in site for the proxy tests: answers version discovery at once, and every other
GET with a fixed body, after a delay if asked (the shape of a site that hangs)."""

from __future__ import annotations

import contextlib
import http.server
import time
from collections.abc import Iterator

import orjson

from tests.servers.threaded_http import serve


class _StubSite(http.server.BaseHTTPRequestHandler):
    max_version = "1.99"
    delay = 0.0
    listing: bytes | None = None  # None: the discovery document again

    def do_GET(self) -> None:
        discovery = orjson.dumps({"default_version": {
            "id": "v1", "min_version": "1.1", "version": self.max_version, "links": []}})
        if self.path == "/":
            body = discovery
        else:
            time.sleep(self.delay)
            body = discovery if self.listing is None else self.listing
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def stub_site(*, max_version: str = "1.99", delay: float = 0.0, listing: bytes | None = None,
              port: int = 0) -> Iterator[str]:
    """Serve a stub site at 127.0.0.1:port (0: a free one) and yield its URL."""
    handler = type("Stub", (_StubSite,),
                   {"max_version": max_version, "delay": delay, "listing": listing})
    with serve(handler, port) as url:
        yield url
