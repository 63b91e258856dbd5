"""HTTP/1.1 to one site: kept-alive connections on asyncio streams.

The proxy's merged listings fetch a few large pages per request; through httpx each
180 kB page cost 0.7 ms of CPU (URL and header models, anyio layers, 64 kB reads),
three times what the bytes cost here. The proxy needs little of what httpx offers: no
redirects, cookies, compression or environment proxies, one origin per site. Framing
is done here rather than by h11: its event objects, header validation and per-chunk
steps still cost a third of a millisecond per page, while a Content-Length body is one
readexactly.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import ssl
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

_READ = 256 * 1024
# Sent as is: compression would cost the proxy more CPU than the bytes it saves here.
_FIXED = "Accept-Encoding: identity\r\n"
# RFC 9110 field names are tokens; values hold no CR, LF or NUL (no header injection).
_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(r"[\r\n\0]")
_STATUS = re.compile(rb"HTTP/1\.([01]) ([0-9]{3})(?: [^\r\n]*)?")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]+)[ \t]*(?:;[^\r\n]*)?")


class ConnectionFailed(Exception):
    """No complete answer: the site could not be reached, or the exchange broke off."""


class _Closed(ConnectionFailed):
    """The site closed the connection before answering (a kept-alive connection it
    dropped while the request was on its way)."""


class _Invalid(ConnectionFailed):
    """The site's answer is not HTTP/1.1 as it should be."""


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    content: bytes


class _Connection:
    __slots__ = ("idle_since", "reader", "reusable", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer
        self.reusable = False  # the last exchange ended cleanly and the site keeps it open
        self.idle_since = 0.0

    def close(self) -> None:
        self.writer.close()


def _request_head(method: str, target: str, authority: str,
                  headers: Sequence[tuple[str, str]], content: bytes | None) -> bytes:
    lines = [f"{method} {target} HTTP/1.1\r\nHost: {authority}\r\n{_FIXED}"]
    for name, value in headers:
        if not _NAME.fullmatch(name) or _BAD_VALUE.search(value):
            raise ConnectionFailed(f"invalid request: header {name!r}")
        lines.append(f"{name}: {value}\r\n")
    if content is not None:
        lines.append(f"Content-Length: {len(content)}\r\n")
    lines.append("\r\n")
    if _BAD_VALUE.search(target) or " " in target or _BAD_VALUE.search(method):
        raise ConnectionFailed("invalid request: target")
    return "".join(lines).encode("latin-1")


class Pool:
    """The connections to one site's endpoint (scheme, host, port); idle ones are kept up to
    ``keepalive`` of them, for ``expiry`` seconds (less than the site's own idle
    timeout, so a site rarely closes one under a request)."""

    def __init__(self, endpoint: str, tls: ssl.SSLContext | None, *, keepalive: int = 20,
                 expiry: float = 4.0):
        parts = urlsplit(endpoint)
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.tls = tls if parts.scheme == "https" else None
        self.authority = parts.netloc.rpartition("@")[2]
        self.path = parts.path.rstrip("/")  # the endpoint's own path, before every target
        self.keepalive = keepalive
        self.expiry = expiry
        self._idle: list[_Connection] = []

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()

    def _checkout(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if now - conn.idle_since < self.expiry and not conn.reader.at_eof():
                return conn
            conn.close()
        return None

    def _checkin(self, conn: _Connection) -> None:
        if conn.reusable and len(self._idle) < self.keepalive:
            conn.idle_since = time.monotonic()
            self._idle.append(conn)
        else:
            conn.close()

    async def _connect(self) -> _Connection:
        try:
            reader, writer = await asyncio.open_connection(
                self.host, self.port, ssl=self.tls, limit=_READ,
                server_hostname=self.host if self.tls else None)
        except OSError as exc:
            raise ConnectionFailed(f"cannot connect: {exc.__class__.__name__}: {exc}") \
                from None
        return _Connection(reader, writer)

    async def request(self, method: str, target: str, headers: Sequence[tuple[str, str]],
                      content: bytes | None = None) -> Answer:
        """One exchange; a GET that finds its kept-alive connection closed by the site
        is sent once more on a new one, as nothing was done."""
        while True:
            conn = self._checkout()
            reused = conn is not None
            if conn is None:
                conn = await self._connect()
            try:
                answer = await self._exchange(conn, method, target, headers, content)
            except _Closed:
                conn.close()
                if reused and method == "GET":
                    continue
                raise
            except BaseException:
                # Cancelled (a timeout) or broken: the connection is mid-exchange.
                conn.close()
                raise
            self._checkin(conn)
            return answer

    async def _exchange(self, conn: _Connection, method: str, target: str,
                        headers: Sequence[tuple[str, str]], content: bytes | None) -> Answer:
        head = _request_head(method, target, self.authority, headers, content)
        conn.reusable = False
        try:
            conn.writer.write(head + content if content else head)
            await conn.writer.drain()
            return await _receive(conn, method)
        except OSError as exc:
            raise ConnectionFailed(f"{exc.__class__.__name__}: {exc}") from None


async def _receive(conn: _Connection, method: str) -> Answer:
    reader = conn.reader
    answered = False
    while True:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if not exc.partial and not answered:
                raise _Closed("the site closed the connection without answering") from None
            raise ConnectionFailed("the site's answer broke off") from None
        except asyncio.LimitOverrunError:
            raise _Invalid("invalid answer: its head is too long") from None
        answered = True
        lines = head[:-4].split(b"\r\n")
        status_line = _STATUS.fullmatch(lines[0])
        if status_line is None:
            raise _Invalid(f"invalid answer: status line {lines[0][:80]!r}")
        status = int(status_line[2])
        if status < 100:
            raise _Invalid(f"invalid answer: status {status}")
        found: dict[str, str] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon or not name or name[-1:] in (b" ", b"\t"):
                raise _Invalid(f"invalid answer: header line {line[:80]!r}")
            key = name.decode("latin-1").lower()
            text = value.strip(b" \t").decode("latin-1")
            found[key] = f"{found[key]}, {text}" if key in found else text
        if status >= 200:
            break
        if status == 101:
            raise ConnectionFailed("the site's answer broke off")
        # 1xx: informational, the answer follows.
    keep = status_line[1] == b"1" and "close" not in found.get("connection", "").lower()
    if method == "HEAD" or status in (204, 304):
        content = b""
    elif "transfer-encoding" in found:
        if found["transfer-encoding"].lower() != "chunked":
            raise _Invalid(f"invalid answer: transfer-encoding {found['transfer-encoding']}")
        content = await _chunked(reader)
    elif "content-length" in found:
        length = found["content-length"]
        if not length.isdigit():
            raise _Invalid(f"invalid answer: content-length {length[:40]!r}")
        try:
            content = await reader.readexactly(int(length))
        except asyncio.IncompleteReadError:
            raise ConnectionFailed("the site's answer broke off") from None
    else:
        # Neither: the answer ends where the site closes the connection.
        content = await reader.read()
        keep = False
    conn.reusable = keep
    return Answer(status, found, content)


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    try:
        while True:
            line = await reader.readuntil(b"\r\n")
            size = _CHUNK_SIZE.fullmatch(line[:-2])
            if size is None:
                raise _Invalid(f"invalid answer: chunk size {line[:40]!r}")
            length = int(size[1], 16)
            if length == 0:
                break
            chunk = await reader.readexactly(length + 2)
            if chunk[-2:] != b"\r\n":
                raise _Invalid("invalid answer: a chunk does not end with CRLF")
            chunks.append(chunk[:-2])
        # Trailers, up to the empty line.
        while await reader.readuntil(b"\r\n") != b"\r\n":
            pass
    except asyncio.IncompleteReadError:
        raise ConnectionFailed("the site's answer broke off") from None
    except asyncio.LimitOverrunError:
        raise _Invalid("invalid answer: a chunk line is too long") from None
    return b"".join(chunks)
