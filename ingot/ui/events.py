"""Live updates: one change cursor per process, fanned out to every open page as
server-sent events.

Whatever writes a node (API, conductor, an agent's heartbeat, another process on the
same database) bumps its updated_at, so one indexed query per interval, for all
viewers together, finds every change: never one request per node or per viewer. The
query looks back a short window because a transaction may commit after a later one's
timestamp was read; what was already sent (same node revision) is not sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import orjson

LOG = logging.getLogger(__name__)

_BATCH = 500
_QUEUE = 2000  # events a slow viewer may lag behind before it is told to reload
_END = b""  # in a viewer's queue: its stream ends


@dataclasses.dataclass(frozen=True, slots=True)
class Change:
    uuid: str
    revision: int
    updated_at: datetime.datetime
    event: dict[str, Any]  # what the browser receives, redacted


Reader = Callable[[datetime.datetime, int], list[Change]]


class Broadcast:
    """Messages to every subscribed viewer; the work that produces them (_run) runs
    while anyone listens and stops with the last viewer."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[bytes]] = set()
        self._task: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[bytes]]:
        queue: asyncio.Queue[bytes] = asyncio.Queue(_QUEUE)
        self._queues.add(queue)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        try:
            yield queue
        finally:
            self._queues.discard(queue)

    async def _run(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """End every viewer's stream (the service stops)."""
        for queue in list(self._queues):
            while True:
                try:
                    queue.put_nowait(_END)
                    break
                except asyncio.QueueFull:
                    queue.get_nowait()

    def publish(self, name: str, data: Mapping[str, Any]) -> None:
        message = f"event: {name}\ndata: ".encode() + orjson.dumps(data) + b"\n\n"
        for queue in list(self._queues):
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:
                # The page missed events: it reloads what it shows instead.
                queue.get_nowait()
                queue.put_nowait(b"event: reload\ndata: {}\n\n")


class ChangeFeed(Broadcast):
    def __init__(self, read: Reader, latest: Callable[[], datetime.datetime | None], *,
                 interval: float = 0.5, window: float = 2.0):
        super().__init__()
        self.read = read
        self.latest = latest
        self.interval = interval
        self.window = datetime.timedelta(seconds=window)
        self._cursor: datetime.datetime | None = None
        self._sent: dict[str, tuple[int, datetime.datetime]] = {}
        # When a poll last found a change (time.monotonic()): cached counts older than
        # that are stale.
        self.changed_at = 0.0

    async def _run(self) -> None:
        while self._queues:
            try:
                if self._cursor is None:
                    self._start()
                else:
                    self._poll()
            except Exception:
                # A database hiccup must not end live updates for every viewer.
                LOG.exception("Reading node changes for the dashboard failed")
            await asyncio.sleep(self.interval)

    def _start(self) -> None:
        cursor = self.latest() or datetime.datetime(1970, 1, 1)
        # What is already in the window happened before anyone watched: pages read it
        # from the API.
        for change in self.read(cursor - self.window, _BATCH):
            self._sent[change.uuid] = (change.revision, change.updated_at)
        self._cursor = cursor

    def _poll(self) -> None:
        assert self._cursor is not None
        since = self._cursor - self.window
        while True:
            batch = self.read(since, _BATCH)
            for change in batch:
                known = self._sent.get(change.uuid)
                if known is not None and known[0] >= change.revision:
                    continue
                self._sent[change.uuid] = (change.revision, change.updated_at)
                self.changed_at = time.monotonic()
                self.publish("node", change.event)
            if batch:
                self._cursor = max(self._cursor, batch[-1].updated_at)
            if len(batch) < _BATCH or batch[-1].updated_at == since:
                break
            since = batch[-1].updated_at
        # Forget what has left the window: its revision cannot come round again.
        horizon = self._cursor - self.window
        self._sent = {uuid: seen for uuid, seen in self._sent.items() if seen[1] >= horizon}


async def stream(source: Broadcast, keepalive: float = 15.0) -> AsyncIterator[bytes]:
    """The event stream of one viewer, with comments as keep-alives."""
    async with source.subscribe() as queue:
        yield b"retry: 2000\nevent: hello\ndata: {}\n\n"
        while True:
            try:
                message = await asyncio.wait_for(queue.get(), keepalive)
            except TimeoutError:
                message = b": keep-alive\n\n"
            if message == _END:
                return
            yield message
