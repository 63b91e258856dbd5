"""Authentication: noauth, http_basic (htpasswd with bcrypt) and keystone.

Version discovery and the agent's lookup and heartbeat endpoints are public, as in
Ironic: the agent proves itself with its agent token instead.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import datetime
import hashlib
import logging
import os
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

import bcrypt
from starlette.types import ASGIApp, Receive, Scope, Send

from ingot.api.errors import BadRequest, Forbidden, ServiceUnavailable, Unauthorized

LOG = logging.getLogger(__name__)


def is_public(path: str) -> bool:
    """Paths the middleware lets through; the dashboard (/ui) runs the same authenticator
    itself, since with keystone its pages load before the browser has a token."""
    return (path in ("/", "/v1", "/v1/", "/v1/lookup", "/v1/heartbeat",
                     "/v1/continue_inspection", "/ui")
            or path.startswith(("/v1/lookup/", "/v1/heartbeat/", "/ui/")))


class AuthMiddleware:
    """Runs an authenticator on every non-public request."""

    def __init__(self, app: ASGIApp, authenticate: Callable[[dict[bytes, bytes]], Any]):
        self.app = app
        self.authenticate = authenticate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not is_public(scope["path"]):
            result = self.authenticate(dict(scope["headers"]))
            if asyncio.iscoroutine(result):
                result = await result
            scope.setdefault("state", {})["identity"] = result
        await self.app(scope, receive, send)


# --- http_basic -------------------------------------------------------------------------

_BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="Baremetal API"'}
_BCRYPT_MAX = 72  # bytes of a password that bcrypt reads


class HtpasswdFile:
    """bcrypt entries of an htpasswd file, re-read when the file changes.

    bcrypt costs tens of milliseconds per check by design; a verified
    (user, password digest) pair is remembered until the file changes so that only
    the first request of a client pays it.
    """

    def __init__(self, path: str):
        self.path = path
        self._mtime: float | None = None
        self._entries: dict[str, bytes] = {}
        self._verified: set[tuple[str, bytes]] = set()

    def _load(self) -> None:
        try:
            mtime = os.stat(self.path).st_mtime
        except OSError as exc:
            raise ServiceUnavailable(f"Authentication is not configured: cannot read "
                                     f"http_basic_auth_user_file {self.path}: "
                                     f"{exc.strerror}") from None
        if mtime == self._mtime:
            return
        entries: dict[str, bytes] = {}
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if not line or line.startswith("#") or ":" not in line:
                    continue
                user, _, hashed = line.partition(":")
                if hashed.startswith(("$2y$", "$2b$", "$2a$")):
                    entries[user] = hashed.encode()
                else:
                    LOG.warning("Ignoring htpasswd entry for %s: only bcrypt is accepted", user)
        self._entries, self._mtime, self._verified = entries, mtime, set()

    def check(self, user: str, password: str) -> bool:
        self._load()
        hashed = self._entries.get(user)
        if hashed is None:
            return False
        secret = password.encode()
        if len(secret) > _BCRYPT_MAX:
            # bcrypt only reads 72 bytes (bcrypt 5 refuses more): no such password matches.
            return False
        key = (user, hashlib.sha256(secret).digest())
        if key in self._verified:
            return True
        try:
            matches = bcrypt.checkpw(secret, hashed.replace(b"$2y$", b"$2b$", 1))
        except ValueError:
            LOG.warning("The htpasswd entry of %s is not a valid bcrypt hash", user)
            return False
        if matches:
            self._verified.add(key)
        return matches


def basic_authenticator(path: str) -> Callable[[dict[bytes, bytes]], dict[str, Any]]:
    users = HtpasswdFile(path)

    def authenticate(headers: dict[bytes, bytes]) -> dict[str, Any]:
        header = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic" or not encoded:
            raise Unauthorized("Authorization required: send HTTP basic credentials.",
                               _BASIC_CHALLENGE)
        try:
            user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("Malformed HTTP basic Authorization header.",
                               _BASIC_CHALLENGE) from None
        if not sep or not users.check(user, password):
            raise Unauthorized("Incorrect username or password.", _BASIC_CHALLENGE)
        return {"user": user, "roles": ["admin"]}

    return authenticate


# --- keystone ---------------------------------------------------------------------------

@dataclasses.dataclass(slots=True)
class _CachedToken:
    identity: dict[str, Any]
    expires: float


class KeystoneAuthenticator:
    """Validates X-Auth-Token against Keystone (GET /v3/auth/tokens) with keystoneauth1.

    Valid tokens are cached until they expire or for cache_seconds, whichever is
    first; the cache key is a digest, never the token itself.
    """

    def __init__(self, session: Any, allowed_roles: Collection[str], cache_seconds: int = 300,
                 www_authenticate_uri: str | None = None, auth_url: str | None = None):
        self.session = session
        # Where people get tokens with a password (the dashboard's login form): the
        # public Keystone clients are sent to, else the one ingot itself uses.
        self.login_url = www_authenticate_uri or auth_url
        self.allowed_roles = set(allowed_roles)
        self.cache_seconds = cache_seconds
        self._cache: dict[bytes, _CachedToken] = {}
        # The challenge of a 401, as keystonemiddleware sends it: where to get a token.
        self.challenge = ({"WWW-Authenticate": f'Keystone uri="{www_authenticate_uri}"'}
                          if www_authenticate_uri else {})

    async def __call__(self, headers: dict[bytes, bytes]) -> dict[str, Any]:
        token = headers.get(b"x-auth-token", b"").decode("latin-1").strip()
        if not token:
            raise Unauthorized("Authentication required: send a Keystone token in "
                               "X-Auth-Token.", self.challenge)
        key = hashlib.sha256(token.encode()).digest()
        cached = self._cache.get(key)
        if cached and cached.expires > time.time():
            return self._authorize(cached.identity)
        identity, expires = await asyncio.to_thread(self._validate, token)
        if len(self._cache) > 10000:
            self._cache.clear()
        self._cache[key] = _CachedToken(identity, min(expires, time.time() + self.cache_seconds))
        return self._authorize(identity)

    def _validate(self, token: str) -> tuple[dict[str, Any], float]:
        from keystoneauth1 import exceptions as ks_exc  # noqa: PLC0415 - only in keystone mode

        try:
            response = self.session.get(
                "/auth/tokens", headers={"X-Subject-Token": token}, authenticated=True,
                endpoint_filter={"service_type": "identity", "interface": "public",
                                 "version": (3, 0)})
        except ks_exc.NotFound:
            # Keystone's answer for a subject token that is malformed, expired or revoked.
            raise Unauthorized("The Keystone token is invalid or expired.",
                               self.challenge) from None
        except (ks_exc.Unauthorized, ks_exc.Forbidden) as exc:
            # 401 (after keystoneauth's re-authentication) and 403 are about ingot's own
            # user, never the client's token: the client must not be told to log in again.
            LOG.error("Keystone refused ingot's [keystone_authtoken] credentials (%s): "
                      "check username, password, project and domains, and that the user "
                      "has the service or admin role", exc.__class__.__name__)
            raise ServiceUnavailable("Cannot validate tokens: Keystone refused the Bare "
                                     "Metal service's own credentials.") from None
        except ks_exc.ClientException as exc:
            LOG.error("Keystone token validation failed: %s", exc.__class__.__name__)
            raise ServiceUnavailable("Cannot validate tokens: Keystone is unreachable.") \
                from None
        body = response.json()["token"]
        roles = [role["name"] for role in body.get("roles", [])]
        # system: a system-scoped token, which sees every project's runbooks.
        identity = {"user": body.get("user", {}).get("name"), "roles": roles,
                    "project": body.get("project", {}).get("id"),
                    "system": bool(body.get("system", {}).get("all"))}
        expires = _parse_expiry(body.get("expires_at"))
        return identity, expires

    async def login(self, fields: Mapping[str, Any]) -> str:
        """A project-scoped token for a person's password (fields username, password,
        project, domain), checked like any token the API receives: valid, and with an
        allowed role."""
        values = []
        for name in ("username", "password", "project", "domain"):
            value = fields.get(name)
            if not isinstance(value, str) or not value or len(value) > 255:
                raise BadRequest(f"Login needs {name}: a string of 1 to 255 characters.")
            values.append(value)
        username, password, project, domain = values
        if not self.login_url:
            raise ServiceUnavailable("Cannot log in: [keystone_authtoken] names no "
                                     "www_authenticate_uri or auth_url.")
        token = await asyncio.to_thread(self._password_token, self.login_url, username,
                                        password, project, domain)
        await self({b"x-auth-token": token.encode()})
        return token

    def _password_token(self, url: str, username: str, password: str, project: str,
                        domain: str) -> str:
        from keystoneauth1 import exceptions as ks_exc  # noqa: PLC0415 - keystone mode
        from keystoneauth1 import session as ks_session  # noqa: PLC0415
        from keystoneauth1.identity import v3  # noqa: PLC0415

        auth = v3.Password(auth_url=url, username=username, password=password,
                           project_name=project, user_domain_name=domain,
                           project_domain_name=domain)
        try:
            token = ks_session.Session(auth=auth, verify=self.session.verify).get_token()
        except (ks_exc.Unauthorized, ks_exc.NotFound, ks_exc.BadRequest):
            raise Unauthorized("Keystone refused the user name, password, project or "
                               "domain.") from None
        except ks_exc.ClientException as exc:
            LOG.error("Logging in at Keystone failed: %s", exc.__class__.__name__)
            raise ServiceUnavailable("Cannot log in: Keystone is unreachable.") from None
        if not token:
            raise Unauthorized("Keystone issued no token.")
        return str(token)

    def _authorize(self, identity: dict[str, Any]) -> dict[str, Any]:
        if self.allowed_roles and not self.allowed_roles & set(identity["roles"]):
            raise Forbidden("The token's roles do not allow access to the Bare Metal API.")
        return identity


def _parse_expiry(value: str | None) -> float:
    if not value:
        return time.time()
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def keystone_authenticator(conf: Any) -> KeystoneAuthenticator:
    from keystoneauth1 import loading  # noqa: PLC0415 - only in keystone mode

    from ingot.conf import keystone  # noqa: PLC0415

    keystone.register(conf)
    auth = loading.load_auth_from_conf_options(conf, "keystone_authtoken")
    session = loading.load_session_from_conf_options(conf, "keystone_authtoken", auth=auth)
    return KeystoneAuthenticator(
        session, conf.api.keystone_allowed_roles,
        cache_seconds=conf[keystone.GROUP].token_cache_time,
        www_authenticate_uri=conf[keystone.GROUP].www_authenticate_uri,
        auth_url=getattr(auth, "auth_url", None))


def noauth(_headers: dict[bytes, bytes]) -> dict[str, Any]:
    return {"user": None, "roles": ["admin"]}

