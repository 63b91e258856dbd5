"""The prefix router picks the route Starlette's walk of every route would pick."""

from __future__ import annotations

import pathlib
import re

from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

from ingot.api.app import create_app
from ingot.api.auth import noauth
from ingot.api.context import ApiSettings
from ingot.api.dispatch import PrefixRouter
from ingot.db.engine import Database
from ingot.drivers.settings import DriverSettings

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
ODD_PATHS = ("/", "//", "/v1", "/v1/", "/v1//nodes", "/v2/nodes", "/nodes", "/ui", "/ui/",
             "/ui/static/app.css", "/ui/api/login", "/ui/nodes/x", "/v1/openapi.json",
             "/v1/nodes/x.json", "/v1/nodes/", "/v1/nodes/x/", "/v1/nope", "/favicon.ico",
             "/v1/nodes/x/states/power/extra", "/v1/ports/x/y/z", "/v1/nodes%2Fx")


def _samples(route: BaseRoute) -> list[str]:
    path = getattr(route, "path", "")
    filled = re.sub(r"\{[^}]+:path\}", "a/b", re.sub(r"\{[^}:]+\}", "x", path))
    return [filled, filled + "/", filled + "/extra", filled.rstrip("/") + ".json"]


def _first_full(routes: list[BaseRoute], scope: Scope) -> BaseRoute | None:
    for route in routes:
        if route.matches(scope)[0] is Match.FULL:
            return route
    return None


def test_prefix_router_picks_the_first_full_match_of_every_route(tmp_path: pathlib.Path
                                                                   ) -> None:
    app = create_app(Database(f"sqlite:///{tmp_path}/ingot.sqlite"), ApiSettings(), noauth,
                     drivers=DriverSettings())
    router = app.router
    assert isinstance(router, PrefixRouter)
    paths = {*ODD_PATHS, *(p for route in router.routes for p in _samples(route))}
    checked = found = 0
    for path in sorted(paths):
        for method in METHODS:
            scope = {"type": "http", "path": path, "root_path": "", "method": method,
                     "headers": []}
            expected = _first_full(router.routes, scope)
            assert _first_full(router.routes_for(scope), scope) is expected, (method, path)
            checked += 1
            found += expected is not None
    # The samples reach every plain route and also miss: both sides were compared.
    assert found >= sum(isinstance(route, Route) for route in router.routes)
    assert checked - found > 100
