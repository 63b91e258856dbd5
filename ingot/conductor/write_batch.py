"""The node writes of a conductor's tasks, committed together; where the API shares the
process, on PostgreSQL, in a thread, one batch in flight while the next accumulates.

A hundred tasks each moving a node along costs a hundred commits (a WAL flush each on
PostgreSQL) when every write is its own transaction; here the writes made during one
pass of the event loop are one transaction at its end. In `ingot serve` on PostgreSQL
the commit runs in a thread of its own: the loop serves API requests meanwhile instead
of waiting for the server (a third of a deploy's loop time did), and what is written
meanwhile is the next batch, sent once the one in flight has landed, so a node's
writes land in the order they were made. The thread costs CPU (hand-offs, smaller
batches): a conductor process without the API has no requests to serve meanwhile and
used twice the CPU with it, and SQLite has no server to wait for, so both commit on
the loop. What a kill can
lose is the batch in flight and the one accumulating, and only writes of nodes the
dead conductor still holds: its reservations stay until recovery moves those nodes
on, as for a kill just before the commit.

Each write stays conditional on the task's reservation: a node taken away meanwhile
fails that task (LostReservation at its next write), not the batch; a batch that fails
(a deadlock with another conductor's transaction) is retried write by write. A node's
writes made while its failed write was in flight fail with it, unwritten.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from ingot.db import nodes
from ingot.db.engine import Database

Outcome = bool | BaseException


@dataclasses.dataclass(slots=True)
class _Pending:
    node_id: int
    host: str
    values: dict[str, Any]
    # Called with the outcome once committed: True if the row still was the host's,
    # or the exception that rolled the batch back.
    done: list[Callable[[Outcome], None]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(slots=True)
class _InFlight:
    batch: list[_Pending]
    future: concurrent.futures.Future[list[Outcome]]


class WriteBatch:
    def __init__(self, db: Database, *, in_thread: bool = False):
        """in_thread: commit in a thread, one batch in flight."""
        self.db = db
        self._pending: dict[int, _Pending] = {}
        self._scheduled = False
        self._in_flight: _InFlight | None = None
        # One thread: batches commit in order, and never wait behind API requests
        # queued for the loop's default executor.
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="write-batch") \
            if in_thread else None

    def update(self, node_id: int, host: str, values: Mapping[str, Any],
               done: Callable[[Outcome], None]) -> None:
        """Write values to the node if host still holds it; done gets the outcome."""
        self._add(node_id, host, values, done)

    async def release(self, node_id: int, host: str, values: Mapping[str, Any]) -> bool:
        """Write values and drop host's reservation; True once committed if host still
        held the node."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def done(outcome: Outcome) -> None:
            if future.done():
                return
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

        self._add(node_id, host, {**values, "reservation": None}, done)
        return await future

    def _add(self, node_id: int, host: str, values: Mapping[str, Any],
             done: Callable[[Outcome], None]) -> None:
        pending = self._pending.get(node_id)
        if pending is None or pending.host != host:
            if pending is not None:
                self.flush()
            pending = self._pending[node_id] = _Pending(node_id, host, {})
        # Later writes of the same batch win, as they would have one after the other.
        pending.values.update(values)
        pending.done.append(done)
        self._schedule()

    def _schedule(self) -> None:
        if self._scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop: nothing to group with
            self.flush()
            return
        self._scheduled = True
        # At the end of this tick: what the other tasks write in it joins the batch.
        loop.call_soon(self._start)

    def _start(self) -> None:
        """Send the pending writes to the commit thread, unless a batch is in flight
        (then they go when it has landed)."""
        self._scheduled = False
        if self._executor is None:
            self.flush()
            return
        if self._in_flight is not None or not self._pending:
            return
        batch, self._pending = list(self._pending.values()), {}
        in_flight = self._in_flight = _InFlight(
            batch, self._executor.submit(self._outcomes, batch))
        asyncio.wrap_future(in_flight.future).add_done_callback(
            lambda _future: self._landed(in_flight))

    def _landed(self, in_flight: _InFlight) -> None:
        if self._in_flight is not in_flight:  # flush() delivered it already
            return
        self._in_flight = None
        self._deliver_landed(in_flight.batch, in_flight.future.result())
        self._start()

    def flush(self) -> None:
        """Commit every write made so far now, waiting for the batch in flight first."""
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None:
            self._deliver_landed(in_flight.batch, in_flight.future.result())
        batch, self._pending = list(self._pending.values()), {}
        if batch:
            self._deliver(batch, self._outcomes(batch))

    def _deliver_landed(self, batch: list[_Pending], outcomes: list[Outcome]) -> None:
        """Outcomes of a batch that was in flight: a node's writes made meanwhile fail
        with its write that failed there, rather than land without it."""
        self._deliver(batch, outcomes)
        for pending, outcome in zip(batch, outcomes, strict=True):
            later = self._pending.get(pending.node_id)
            if outcome is not True and later is not None and later.host == pending.host:
                del self._pending[pending.node_id]
                self._deliver([later], [outcome])

    @staticmethod
    def _deliver(batch: list[_Pending], outcomes: list[Outcome]) -> None:
        for pending, outcome in zip(batch, outcomes, strict=True):
            for done in pending.done:
                done(outcome)

    def _outcomes(self, batch: list[_Pending]) -> list[Outcome]:
        try:
            return self._commit(batch)
        except Exception:
            # Rolled back (a deadlock with another conductor, one bad write): each write
            # again in a transaction of its own, so only what fails alone fails its task.
            outcomes: list[Outcome] = []
            for pending in batch:
                try:
                    outcomes += self._commit([pending])
                except Exception as exc:
                    outcomes.append(exc)
            return outcomes

    def _commit(self, batch: list[_Pending]) -> list[Outcome]:
        with self.db.write() as conn:
            written = nodes.update_held(
                conn, [(pending.node_id, pending.host, pending.values) for pending in batch])
        return [pending.node_id in written for pending in batch]
