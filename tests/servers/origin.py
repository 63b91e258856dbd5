"""A real HTTP origin on 127.0.0.1 for image tests, run in a thread of the test process.

It serves registered files with Range/If-Range support and counts requests and body
bytes per path; per-path faults make it misbehave on purpose (status codes, dropped
connections, lying Content-Length, ignoring Range, redirects), and a file's validators
(ETag, Last-Modified) can be set to stand for a file changed in place.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import http.server
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

_RANGE = re.compile(r"^bytes=(\d+)-$")


@dataclasses.dataclass
class Fault:
    statuses: list[int] = dataclasses.field(default_factory=list)  # answered first, in order
    drop_after: int | None = None  # close the connection after this many body bytes...
    drops: int = 0  # ...on this many responses
    length_delta: int = 0  # announce Content-Length + delta, send the real body
    extra_bytes: int = 0  # send this many bytes beyond the announced body
    ignore_range: bool = False
    chunked: bool = False  # Transfer-Encoding: chunked instead of Content-Length
    delay: float = 0.0  # seconds to sleep after each 64 KiB sent (a slow link)
    gzip: bool = False  # Content-Encoding: gzip (a misconfigured server)
    redirect: str | None = None  # answer every request with a 302 to this URL


@dataclasses.dataclass(frozen=True)
class Validators:
    """What the origin announces for a file instead of its content-derived ETag."""

    etag: str | None
    last_modified: str | None = None


@dataclasses.dataclass
class Hit:
    path: str
    headers: dict[str, str]
    status: int
    body_bytes: int
    method: str = "GET"


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up mid-response is what several tests do on purpose."""


class Origin:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.faults: dict[str, Fault] = {}
        self.validators: dict[str, Validators] = {}
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        origin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                origin._serve(self, body=True)

            def do_HEAD(self) -> None:
                origin._serve(self, body=False)

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> Origin:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add(self, path: str, data: bytes, fault: Fault | None = None,
            validators: Validators | None = None) -> str:
        self.files[path] = data
        if fault is not None:
            self.faults[path] = fault
        if validators is not None:
            self.validators[path] = validators
        return self.url + path

    def gets(self, path: str) -> int:
        """How many GETs of ``path`` were answered with its content."""
        return sum(1 for hit in self.hits_for(path)
                   if hit.method == "GET" and hit.status in (200, 206))

    def hits_for(self, path: str) -> list[Hit]:
        with self._lock:
            return [hit for hit in self.hits if hit.path == path]

    def bytes_served(self, path: str) -> int:
        return sum(hit.body_bytes for hit in self.hits_for(path))

    def _record(self, hit: Hit) -> None:
        with self._lock:
            self.hits.append(hit)

    def _serve(self, handler: http.server.BaseHTTPRequestHandler, body: bool) -> None:
        path = handler.path.split("?", 1)[0]
        if path not in self.files:
            # A proxy is sent absolute URLs: registered as such, the origin answers them as
            # a proxy would; else it plays the proxy and the site by their path.
            path = urlsplit(handler.path).path
        headers = {key.lower(): value for key, value in handler.headers.items()}
        data = self.files.get(path)
        fault = self.faults.get(path, Fault())
        hit = Hit(handler.path, headers, 0, 0, handler.command)
        self._record(hit)
        if fault.redirect is not None:
            hit.status = 302
            self._reply(handler, 302, b"", {"Location": fault.redirect})
            return
        if data is None:
            hit.status = 404
            self._reply(handler, 404, b"not found\n")
            return
        with self._lock:
            status = fault.statuses.pop(0) if fault.statuses else 200
        if status != 200:
            hit.status = status
            self._reply(handler, status, f"status {status}\n".encode())
            return
        validators = self.validators.get(path)
        etag = validators.etag if validators else \
            '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        start = 0
        wanted = _RANGE.match(headers.get("range", ""))
        if wanted and not fault.ignore_range and etag and \
                headers.get("if-range", etag) == etag:
            start = int(wanted[1])
            if start >= len(data):
                hit.status = 416
                self._reply(handler, 416, b"", {"Content-Range": f"bytes */{len(data)}"})
                return
        part = gzip.compress(data[start:], mtime=0) if fault.gzip else data[start:]
        hit.status = 206 if start else 200
        handler.send_response(hit.status)
        handler.send_header("Content-Type", "application/octet-stream")
        if fault.chunked:
            handler.send_header("Transfer-Encoding", "chunked")
        else:
            handler.send_header("Content-Length", str(len(part) + fault.length_delta))
        if etag:
            handler.send_header("ETag", etag)
        if validators and validators.last_modified:
            handler.send_header("Last-Modified", validators.last_modified)
        if fault.gzip:
            handler.send_header("Content-Encoding", "gzip")
        handler.send_header("Accept-Ranges", "bytes")
        if start:
            handler.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        handler.end_headers()
        if not body:
            return
        limit = len(part)
        drop = False
        with self._lock:
            if fault.drop_after is not None and fault.drops > 0:
                fault.drops -= 1
                limit, drop = min(limit, fault.drop_after), True
        payload = part[:limit] + (b"x" * fault.extra_bytes if not drop else b"")
        try:
            for offset in range(0, len(payload), 64 << 10):
                piece = payload[offset:offset + (64 << 10)]
                if fault.chunked:
                    piece = b"%x\r\n%s\r\n" % (len(piece), piece)
                handler.wfile.write(piece)
                hit.body_bytes += min(64 << 10, len(payload) - offset)
                if fault.delay:
                    time.sleep(fault.delay)
            if fault.chunked and not drop:
                handler.wfile.write(b"0\r\n\r\n")
        except OSError:
            return
        if drop or fault.length_delta or fault.extra_bytes:
            handler.close_connection = True
            with contextlib.suppress(OSError):
                handler.connection.shutdown(socket.SHUT_RDWR)

    @staticmethod
    def _reply(handler: http.server.BaseHTTPRequestHandler, status: int, text: bytes,
               headers: dict[str, str] | None = None) -> None:
        handler.send_response(status)
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(text)))
        handler.end_headers()
        handler.wfile.write(text)


@contextlib.contextmanager
def running_origin() -> Iterator[Origin]:
    with Origin() as origin:
        yield origin
