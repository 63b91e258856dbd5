"""The proxy's HTTP/1.1 client against a scripted server: kept-alive connections are
reused, chunked answers and request bodies arrive whole, and a GET whose idle
connection the server closed is sent again on a new one."""

from __future__ import annotations

import asyncio

from ingot.proxy import http1


async def _scripted(answers: list[bytes], seen: list[bytes],
                    connections: list[int]) -> asyncio.Server:
    """Answers requests in order from answers; b"close" closes the connection instead
    of answering (the request is lost, as when a server drops an idle connection)."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        while answers:
            head = await reader.readuntil(b"\r\n\r\n")
            length = [int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")]
            seen.append(head + (await reader.readexactly(length[0]) if length else b""))
            answer = answers.pop(0)
            if answer == b"close":
                break
            writer.write(answer)
            await writer.drain()
        writer.close()
    return await asyncio.start_server(handle, "127.0.0.1", 0)


def test_keep_alive_chunks_bodies_and_a_closed_idle_connection() -> None:
    async def run() -> None:
        answers = [
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: 1\r\nX-A: 2\r\n\r\nok",
            b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            b"close",
            b"HTTP/1.1 204 No Content\r\n\r\n",
        ]
        seen: list[bytes] = []
        connections: list[int] = []
        server = await _scripted(answers, seen, connections)
        port = server.sockets[0].getsockname()[1]
        pool = http1.Pool(f"http://127.0.0.1:{port}/base/", None)
        try:
            first = await pool.request("GET", pool.path + "/v1/x?a=1", [("X-Me", "1")])
            assert (first.status, first.content, first.headers["x-a"]) == (200, b"ok", "1, 2")
            second = await pool.request("POST", pool.path + "/v1/y", [], b'{"k": 1}')
            assert (second.status, second.content) == (201, b"abcde")
            assert len(connections) == 1
            third = await pool.request("GET", pool.path + "/v1/z", [])
            assert (third.status, third.content) == (204, b"")
            assert len(connections) == 2
        finally:
            pool.close()
            server.close()
        assert seen[0].startswith(b"GET /base/v1/x?a=1 HTTP/1.1\r\n")
        assert b"\r\nHost: 127.0.0.1:" in seen[0] and b"\r\nX-Me: 1\r\n" in seen[0]
        assert seen[1].startswith(b"POST /base/v1/y ") and seen[1].endswith(b'{"k": 1}')
        assert seen[2].startswith(b"GET /base/v1/z ") and seen[3] == seen[2]

    asyncio.run(run())


def test_a_post_is_not_sent_twice() -> None:
    async def run() -> None:
        seen: list[bytes] = []
        connections: list[int] = []
        server = await _scripted([b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", b"close"],
                                 seen, connections)
        pool = http1.Pool(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", None)
        try:
            assert (await pool.request("GET", "/", [])).status == 200
            try:
                await pool.request("POST", "/", [], b"x")
            except http1.ConnectionFailed as exc:
                assert "closed the connection without answering" in str(exc)
            else:
                raise AssertionError("the POST was answered")
        finally:
            pool.close()
            server.close()
        assert len(seen) == 2 and len(connections) == 1

    asyncio.run(run())


def test_informational_close_delimited_and_broken_answers() -> None:
    """A 1xx before the answer is skipped; an answer without length ends at the close
    (and its connection is not reused); a body cut short or a status line that is not
    HTTP fails the exchange."""
    async def run() -> None:
        seen: list[bytes] = []
        connections: list[int] = []
        server = await _scripted([
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
            b"HTTP/1.0 200 OK\r\n\r\nuntil the end",
        ], seen, connections)
        pool = http1.Pool(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", None)
        broken = await _scripted([b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc"],
                                 [], [])
        garbage = await _scripted([b"SMTP ready\r\n\r\n"], [], [])
        try:
            first = await pool.request("GET", "/a", [])
            assert (first.status, first.content) == (200, b"abc")
            second = await pool.request("GET", "/b", [])
            assert (second.status, second.content) == (200, b"until the end")
            assert len(connections) == 1 and not pool._idle
            for other, message in ((broken, "broke off"), (garbage, "status line")):
                port = other.sockets[0].getsockname()[1]
                try:
                    await http1.Pool(f"http://127.0.0.1:{port}", None).request("GET", "/", [])
                except http1.ConnectionFailed as exc:
                    assert message in str(exc)
                else:
                    raise AssertionError(f"answered: {message}")
        finally:
            pool.close()
            for each in (server, broken, garbage):
                each.close()

    asyncio.run(run())
