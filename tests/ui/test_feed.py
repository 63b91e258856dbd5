"""The dashboard's reads of the database, on SQLite and PostgreSQL: the fleet's counts,
and the change cursor that feeds every open page (each change once, redacted, a late
commit inside the window included)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from ingot.db import nodes as node_queries
from ingot.db.engine import Database
from ingot.db.models import nodes, utcnow
from ingot.ui import events, fleet
from tests.factories import node_row


def _insert(db: Database, **values: Any) -> int:
    with db.write() as conn:
        return node_queries.insert(conn, node_row(updated_at=utcnow(), **values)).id


def test_summary_counts_states(db: Database) -> None:
    for _ in range(3):
        _insert(db)
    _insert(db, provision_state="active", power_state="power on")
    _insert(db, provision_state="active", power_state="power on", maintenance=True)
    assert fleet.summary(db) == {"total": 5, "maintenance": 1,
                                 "provision_state": {"enroll": 3, "active": 2},
                                 "power_state": {"none": 3, "power on": 2}}


def _message(raw: bytes) -> tuple[str, dict[str, Any]]:
    head, data = raw.decode().strip().split("\n")
    return head.removeprefix("event: "), orjson.loads(data.removeprefix("data: "))


def test_feed_sends_each_change_once_redacted(db: Database) -> None:
    first = _insert(db, name="watched")
    quiet = _insert(db, name="quiet")
    feed = events.ChangeFeed(lambda since, limit: fleet.changes_since(db, since, limit),
                             lambda: fleet.latest_change(db), interval=0.05)

    async def scenario() -> list[tuple[str, dict[str, Any]]]:
        received: list[tuple[str, dict[str, Any]]] = []

        async def drain(queue: asyncio.Queue[bytes]) -> None:
            await asyncio.sleep(0.3)  # several polls
            while not queue.empty():
                received.append(_message(queue.get_nowait()))

        async with feed.subscribe() as queue:
            await asyncio.sleep(0.1)  # the cursor starts at the latest change: no backlog
            with db.write() as conn:
                node_queries.update(conn, first, {
                    "provision_state": "deploying", "last_error": "failed: password=hunter2",
                    "agent_progress": {"bytes_done": 5, "url": "http://u:pw@img/x"}})
            await drain(queue)
            # A transaction that commits late, with a timestamp before the cursor's.
            with db.write() as conn:
                conn.execute(sa.update(nodes).where(nodes.c.id == quiet).values(
                    power_state="power on", revision=nodes.c.revision + 1,
                    updated_at=utcnow() - datetime.timedelta(seconds=1)))
            await drain(queue)
        return received

    # In a thread of its own: the session's Playwright keeps an event loop in this one.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        received = pool.submit(asyncio.run, scenario()).result(timeout=60)
    assert [(name, body["name"]) for name, body in received] == [("node", "watched"),
                                                                  ("node", "quiet")]
    watched = received[0][1]
    assert watched["provision_state"] == "deploying"
    assert "hunter2" not in watched["last_error"] and "******" in watched["last_error"]
    assert watched["agent_progress"]["bytes_done"] == 5
    assert "u:pw@" not in watched["agent_progress"]["url"]
    assert received[1][1]["power_state"] == "power on"
