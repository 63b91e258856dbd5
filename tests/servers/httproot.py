"""A static HTTP server over an HTTP root on 127.0.0.1, in a thread, that also takes callbacks.

It stands in for the web server (or ingot's embedded one) that serves boot files to
iPXE: GET/HEAD of files under the root (symlinks followed, but never out of the root),
every request recorded with its query string and User-Agent. POSTs to /callback/<name>
are kept, so a booted test kernel can report its /proc/cmdline. ``expect_query`` makes
the server answer 403 for a path whose query string did not arrive exactly as expected
(the iPXE ROM re-encodes queries).
"""

from __future__ import annotations

import dataclasses
import pathlib
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

CALLBACK_PREFIX = "/callback/"


@dataclasses.dataclass(frozen=True)
class Hit:
    method: str
    path: str
    query: str
    user_agent: str
    status: int
    elapsed: float  # seconds since the server started


class HttpRootServer:
    def __init__(self, root: pathlib.Path) -> None:
        self.root = root.resolve()
        self.hits: list[Hit] = []
        self.callbacks: dict[str, list[bytes]] = {}
        self.expected_queries: dict[str, str] = {}
        self._changed = threading.Condition()
        self._started = time.monotonic()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        # A short poll interval: shutdown() waits for the next poll.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)

    @property
    def started_at(self) -> float:
        """time.monotonic() when the server was made; Hit.elapsed counts from it."""
        return self._started

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def guest_url(self) -> str:
        """The same server as a QEMU user-mode guest reaches it (10.0.2.2 is the host)."""
        return f"http://10.0.2.2:{self.port}"

    def callback_url(self, name: str, guest: bool = True) -> str:
        return f"{self.guest_url if guest else self.url}{CALLBACK_PREFIX}{name}"

    def expect_query(self, path: str, query: str) -> None:
        self.expected_queries[path] = query

    def start(self) -> HttpRootServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def __enter__(self) -> HttpRootServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_callback(self, name: str, timeout: float) -> bytes | None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not self.callbacks.get(name):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._changed.wait(remaining)
            return self.callbacks[name][0]

    def hits_for(self, path: str) -> list[Hit]:
        return [hit for hit in self.hits if hit.path == path]

    def describe_hits(self) -> str:
        return "\n".join(f"{h.elapsed:7.2f}s {h.method} {h.path}?{h.query} -> {h.status} "
                         f"({h.user_agent})" for h in self.hits)

    def _record(self, hit: Hit) -> None:
        with self._changed:
            self.hits.append(hit)
            self._changed.notify_all()

    def _file(self, path: str) -> pathlib.Path | None:
        candidate = (self.root / path.lstrip("/")).resolve()
        if not candidate.is_relative_to(self.root) or not candidate.is_file():
            return None
        return candidate

    def _handler(self) -> Callable[..., BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self, method: str) -> None:
                parts = urlsplit(self.path)
                status, body = 404, b"not found\n"
                expected = server.expected_queries.get(parts.path)
                found = server._file(parts.path)
                if expected is not None and parts.query != expected:
                    status, body = 403, b"query altered\n"
                elif found is not None:
                    status, body = 200, found.read_bytes()
                server._record(Hit(method, parts.path, parts.query,
                                   self.headers.get("User-Agent", ""), status,
                                   time.monotonic() - server._started))
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                if method == "GET":
                    self.wfile.write(body)

            def do_GET(self) -> None:
                self._answer("GET")

            def do_HEAD(self) -> None:
                self._answer("HEAD")

            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                ok = parts.path.startswith(CALLBACK_PREFIX)
                if ok:
                    name = parts.path[len(CALLBACK_PREFIX):]
                    with server._changed:
                        server.callbacks.setdefault(name, []).append(body)
                server._record(Hit("POST", parts.path, parts.query,
                                   self.headers.get("User-Agent", ""), 200 if ok else 404,
                                   time.monotonic() - server._started))
                self.send_response(200 if ok else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass  # requests are kept in server.hits instead

        return Handler
