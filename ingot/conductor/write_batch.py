"""The node writes of a conductor's tasks, committed together once per event-loop tick.

A hundred tasks each moving a node along costs a hundred commits (a WAL flush each on
PostgreSQL) when every write is its own transaction; here the writes made during one
pass of the loop are one transaction, written before the loop runs anything else
(another task, an API request of the same process, an I/O callback). What a kill can
lose is therefore at most one tick of writes, and only of nodes the dead conductor still
holds: its reservations stay until recovery moves those nodes on, as for a kill just
before the tick.

Each write stays conditional on the task's reservation: a node taken away meanwhile
fails that task (LostReservation at its next write), not the batch; a batch that fails
(a deadlock with another conductor's transaction) is retried write by write.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from ingot.db import nodes
from ingot.db.engine import Database


@dataclasses.dataclass(slots=True)
class _Pending:
    node_id: int
    host: str
    values: dict[str, Any]
    # Called with the outcome once committed: True if the row still was the host's,
    # or the exception that rolled the batch back.
    done: list[Callable[[bool | BaseException], None]] = dataclasses.field(
        default_factory=list)


class WriteBatch:
    def __init__(self, db: Database):
        self.db = db
        self._pending: dict[int, _Pending] = {}
        self._scheduled = False

    def update(self, node_id: int, host: str, values: Mapping[str, Any],
               done: Callable[[bool | BaseException], None]) -> None:
        """Write values to the node if host still holds it; done gets the outcome."""
        self._add(node_id, host, values, done)

    async def release(self, node_id: int, host: str, values: Mapping[str, Any]) -> bool:
        """Write values and drop host's reservation; True once committed if host still
        held the node."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def done(outcome: bool | BaseException) -> None:
            if future.done():
                return
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

        self._add(node_id, host, {**values, "reservation": None}, done)
        return await future

    def _add(self, node_id: int, host: str, values: Mapping[str, Any],
             done: Callable[[bool | BaseException], None]) -> None:
        pending = self._pending.get(node_id)
        if pending is None or pending.host != host:
            if pending is not None:
                self.flush()
            pending = self._pending[node_id] = _Pending(node_id, host, {})
        # Later writes of the same tick win, as they would have one after the other.
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
        loop.call_soon(self.flush)

    def flush(self) -> None:
        """Commit every pending write now, in one transaction."""
        self._scheduled = False
        batch, self._pending = list(self._pending.values()), {}
        if not batch:
            return
        outcomes: list[bool | BaseException]
        try:
            outcomes = self._commit(batch)
        except Exception:
            # Rolled back (a deadlock with another conductor, one bad write): each write
            # again in a transaction of its own, so only what fails alone fails its task.
            outcomes = []
            for pending in batch:
                try:
                    outcomes += self._commit([pending])
                except Exception as exc:
                    outcomes.append(exc)
        for pending, outcome in zip(batch, outcomes, strict=True):
            for done in pending.done:
                done(outcome)

    def _commit(self, batch: list[_Pending]) -> list[bool | BaseException]:
        with self.db.write() as conn:
            written = nodes.update_held(
                conn, [(pending.node_id, pending.host, pending.values) for pending in batch])
        return [pending.node_id in written for pending in batch]
