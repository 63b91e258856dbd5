"""A router that tries only the routes a path's first two segments can match.

Starlette's Router tries every route's regex in order, about 125 of them for a node
GET; a route whose leading segments are literal text can only match a path that
starts with that text, so the routes worth trying for /v1/nodes/... are those keyed
("v1", "nodes") plus the few whose leading segments are not literal (mounts, path
parameters), in their original order. The first full match among those is the first
full match of the whole list. Anything else (no full match: 405, 404, a trailing
slash redirect) goes through Starlette's own walk of every route, so its answers stay
Starlette's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import Receive, Scope, Send

# How many leading path segments key a route.
_DEPTH = 2


def _key(path: str) -> tuple[str, ...]:
    return tuple(path.split("/", _DEPTH + 1)[1:_DEPTH + 1])


def _literal_key(route: BaseRoute) -> tuple[str, ...] | None:
    """The leading segments every path this route matches starts with, or None when
    they are not plain text (a mount matches below its prefix too)."""
    if type(route) is not Route:
        return None
    segments = route.path.split("/", _DEPTH + 1)[1:]
    # A route of fewer segments matches exactly its path; a deeper route keys on its
    # leading ones, and a parameter in those makes them not literal.
    key = tuple(segments[:_DEPTH])
    return None if any("{" in segment for segment in key) else key


class PrefixRouter(Router):
    def __init__(self, routes: Sequence[BaseRoute], **kwargs: Any) -> None:
        super().__init__(routes, **kwargs)
        keyed: dict[tuple[str, ...], list[int]] = {}
        loose: list[int] = []
        for index, route in enumerate(self.routes):
            key = _literal_key(route)
            if key is None:
                loose.append(index)
            else:
                keyed.setdefault(key, []).append(index)
        self._loose = [self.routes[i] for i in loose]
        self._candidates = {key: [self.routes[i] for i in sorted(indices + loose)]
                            for key, indices in keyed.items()}

    def routes_for(self, scope: Scope) -> list[BaseRoute]:
        """The routes that can match this request's path, in the routes' order."""
        return self._candidates.get(_key(get_route_path(scope)), self._loose)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if "router" not in scope:
                scope["router"] = self
            for route in self.routes_for(scope):
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope["route"] = route
                    scope.update(child_scope)
                    await route.handle(scope, receive, send)
                    return
        await super().app(scope, receive, send)
