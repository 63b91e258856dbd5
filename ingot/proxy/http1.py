"""HTTP/1.1 to one site: kept-alive connections on asyncio streams, framed by h11.

The proxy's merged listings fetch a few large pages per request; through httpx each
180 kB page cost 0.7 ms of CPU (URL and header models, anyio layers, 64 kB reads),
three times what the bytes cost here. The proxy needs little of what httpx offers: no
redirects, cookies, compression or environment proxies, one origin per site.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

import h11

_READ = 256 * 1024
# Sent as is: compression would cost the proxy more CPU than the bytes it saves here.
_FIXED = [("Accept-Encoding", "identity")]


class ConnectionFailed(Exception):
    """No complete answer: the site could not be reached, or the exchange broke off."""


class _Closed(ConnectionFailed):
    """The site closed the connection before answering (a kept-alive connection it
    dropped while the request was on its way)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    content: bytes


class _Connection:
    __slots__ = ("h11", "idle_since", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.CLIENT)
        self.idle_since = 0.0

    def close(self) -> None:
        self.writer.close()


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
        if conn.h11.our_state is h11.DONE and conn.h11.their_state is h11.DONE \
                and len(self._idle) < self.keepalive:
            conn.h11.start_next_cycle()
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
        framing = [("Content-Length", str(len(content)))] if content is not None else []
        parser = conn.h11
        try:
            parts = [parser.send(h11.Request(
                method=method, target=target,
                headers=[("Host", self.authority), *_FIXED, *headers, *framing]))]
            if content:
                parts.append(parser.send(h11.Data(data=content)))
            parts.append(parser.send(h11.EndOfMessage()))
        except h11.LocalProtocolError as exc:
            raise ConnectionFailed(f"invalid request: {exc}") from None
        try:
            conn.writer.write(b"".join(part for part in parts if part))
            await conn.writer.drain()
            return await self._receive(conn)
        except h11.RemoteProtocolError as exc:
            raise ConnectionFailed(f"invalid answer: {exc}") from None
        except OSError as exc:
            raise ConnectionFailed(f"{exc.__class__.__name__}: {exc}") from None

    async def _receive(self, conn: _Connection) -> Answer:
        parser = conn.h11
        response: h11.Response | None = None
        chunks: list[bytes] = []
        answered = False
        while True:
            event = parser.next_event()
            if event is h11.NEED_DATA:
                data = await conn.reader.read(_READ)
                if not data and not answered:
                    raise _Closed("the site closed the connection without answering")
                answered = True
                parser.receive_data(data)
            elif isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                chunks.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                break
            elif not isinstance(event, h11.InformationalResponse):
                # Closed mid-answer (or PAUSED, which only a protocol switch causes).
                raise ConnectionFailed("the site's answer broke off")
        assert response is not None
        found: dict[str, str] = {}
        for name, value in response.headers:
            key, text = name.decode("latin-1"), value.decode("latin-1")
            found[key] = f"{found[key]}, {text}" if key in found else text
        # h11 hands out bytearrays: one copy into the bytes everything after expects.
        return Answer(response.status_code, found, b"".join(chunks))
