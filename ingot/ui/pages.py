"""The dashboard's pages, static files and who may see them, shared by the API's
dashboard and the proxy's.

Pages are shells: the browser fills them from the Bare Metal API itself (same handlers,
same validation, same errors) and from the few /ui/api/ endpoints. They are guarded by
the service's own authenticator: with http_basic its challenge makes the browser ask
for a password; with keystone, which a browser cannot answer, the shell loads without
data and its script asks for a login, keeping the token in the tab's sessionStorage.
Authenticators are handed in and their errors read by shape (status, headers): this
package sits below the API and the proxy that mount it.
"""

from __future__ import annotations

import functools
import inspect
import pathlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

if TYPE_CHECKING:
    import jinja2

HERE = pathlib.Path(__file__).parent
# The microversion the pages speak: node history needs 1.78.
API_VERSION = "1.78"

Authenticate = Callable[[dict[bytes, bytes]], Any]
Handler = Callable[[Request], Any]



@functools.cache
def _templates() -> jinja2.Environment:
    """Loaded with the first page: a service nobody browses does without jinja2."""
    import jinja2  # noqa: PLC0415

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True, trim_blocks=True, lstrip_blocks=True)


async def authenticate(auth: Authenticate, request: Request) -> Any:
    """The caller's identity, or the authenticator's own 401/403 (raised)."""
    result = auth(dict(request.scope["headers"]))
    if inspect.isawaitable(result):
        result = await result
    return result


def _refusal(exc: Exception) -> tuple[int, dict[str, str], str] | None:
    """An authenticator's 401 or 403 (ingot.api.errors): status, headers, message."""
    status = getattr(exc, "status", None)
    if status not in (401, 403):
        return None
    return int(status), dict(getattr(exc, "headers", {}) or {}), str(exc)


def guarded(auth: Authenticate, handler: Handler) -> Handler:
    """A /ui/api/ endpoint: the same authentication as the Bare Metal API."""
    async def endpoint(request: Request) -> Response:
        await authenticate(auth, request)
        response: Response = await handler(request)
        return response
    return endpoint


_LOGIN_MAX = 16384


def login(auth: Authenticate) -> Handler:
    """Keystone's authenticator (ingot.api.auth) has login: a token for the login form's
    password, handed to the page's script, which keeps it in sessionStorage. Other
    authenticators have none: 404."""
    async def endpoint(request: Request) -> Response:
        get_token = getattr(auth, "login", None)
        if get_token is None:
            raise HTTPException(404)
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > _LOGIN_MAX:
                raise HTTPException(413)
        try:
            fields = orjson.loads(raw)
        except orjson.JSONDecodeError:
            fields = None
        token = await get_token(fields if isinstance(fields, dict) else {})
        return JSONResponse({"token": token}, headers={"Cache-Control": "no-store"})
    return endpoint


def page(auth: Authenticate, template: str, multisite: bool) -> Handler:
    async def endpoint(request: Request) -> Response:
        token_login = False
        try:
            await authenticate(auth, request)
        except Exception as exc:
            refused = _refusal(exc)
            if refused is None:
                raise
            status, headers, message = refused
            if status == 401 and not headers.get("WWW-Authenticate", "").startswith("Basic"):
                # Keystone: the shell loads, its script asks for a login.
                token_login = True
            else:
                # The browser shows this page under its password prompt, and after it
                # when the password is wrong; the challenge header makes it ask.
                html = _templates().get_template("refused.html.j2").render(
                    message=message, status=status)
                return HTMLResponse(html, status_code=status,
                                    headers={**headers, "Cache-Control": "no-store"})
        html = _templates().get_template(template).render(
            api_version=API_VERSION, multisite=multisite, token_login=token_login,
            node=request.path_params.get("node", ""))
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})
    return endpoint


def routes(auth: Authenticate, data: list[BaseRoute], *, multisite: bool) -> list[BaseRoute]:
    """/ui: the pages, the static files, and data (the /ui/api/ routes) of this service."""
    fleet = page(auth, "fleet.html.j2", multisite)
    # /ui too: the proxy answers paths without their trailing slash.
    return [Route("/ui", fleet, methods=["GET"]), Mount("/ui", routes=[
        Route("/", fleet, methods=["GET"]),
        Route("/nodes/{node}", page(auth, "node.html.j2", multisite), methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="ui-static"),
        Mount("/api", routes=[Route("/login", login(auth), methods=["POST"]), *data]),
    ])]
