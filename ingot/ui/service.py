"""The dashboard of `ingot serve` and `ingot api`: the pages, the fleet's counts, and
live node changes from this service's database."""

from __future__ import annotations

import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from ingot.db.engine import Database
from ingot.ui import events, fleet, pages


def _db(request: Request) -> Database:
    # The API's context (ingot.api.context) holds the database the handlers use.
    db: Database = request.app.state.ctx.db
    return db


# Counts read every row's index entry (35 ms at 100k nodes on SQLite, bench/ui_fleet.py)
# and every open page asks again after changes: one reading serves all viewers, read
# again when the change feed saw a change since (at most every _SUMMARY_MIN_AGE), or
# after _SUMMARY_TTL when no feed watches. Pages ask a second after an event, so they
# never get counts from before it.
_SUMMARY_MIN_AGE = 0.5
_SUMMARY_TTL = 2.0


async def _summary(request: Request) -> Response:
    state = request.app.state
    cached: tuple[float, dict[str, Any]] | None = getattr(state, "ui_summary", None)
    feed: events.ChangeFeed | None = getattr(state, "ui_feed", None)
    now = time.monotonic()
    age = now - cached[0] if cached else 0.0
    if cached is None or age > _SUMMARY_TTL or (
            age > _SUMMARY_MIN_AGE and feed is not None and feed.changed_at > cached[0]):
        cached = (now, fleet.summary(_db(request)))
        state.ui_summary = cached
    return JSONResponse(cached[1], headers={"Cache-Control": "no-store"})


def _feed(request: Request) -> events.ChangeFeed:
    state = request.app.state
    feed: events.ChangeFeed | None = getattr(state, "ui_feed", None)
    if feed is None:
        db = _db(request)
        feed = events.ChangeFeed(lambda since, limit: fleet.changes_since(db, since, limit),
                                 lambda: fleet.latest_change(db))
        state.ui_feed = feed
    return feed


async def _events(request: Request) -> Response:
    return StreamingResponse(events.stream(_feed(request)), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store",
                                      "X-Accel-Buffering": "no"})


def close(app: Starlette) -> None:
    """The service stops: end the open event streams (a browser reconnects later)."""
    feed: events.ChangeFeed | None = getattr(app.state, "ui_feed", None)
    if feed is not None:
        feed.close()


def routes(auth: pages.Authenticate) -> list[BaseRoute]:
    return pages.routes(auth, [
        Route("/summary", pages.guarded(auth, _summary), methods=["GET"]),
        Route("/events", pages.guarded(auth, _events), methods=["GET"]),
    ], multisite=False)
