"""The temp URL cache, in the database so that every conductor hands out the same URL.

An entry is keyed by everything the signature depends on (method, endpoint, account,
container, object, key, digest, lifetime) and records only the expiry chosen for it:
the URL is the HMAC of (method, expiry, path) under the key, so every conductor with
the key recomputes the identical URL, and the database holds neither key nor signature.

An entry is reused only while its URL stays valid for the expected download start
delay plus a margin; after that the next caller renews it. A read transaction serves
hits; a miss takes a write transaction, where concurrent conductors settle on one
expiry (see ingot.db.temp_urls) and expired entries are purged.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time

from ingot.db import temp_urls
from ingot.db.engine import Database
from ingot.swift.locations import ObjectLocation
from ingot.swift.tempurl import DEFAULT_DIGEST, TempURL, key_id, sign

LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class _Entry:
    """The signature inputs of a cached URL, without the key itself."""

    method: str
    endpoint: str
    account: str
    container: str
    object_name: str
    key_id: str
    digest: str
    lifetime: int

    @property
    def cache_key(self) -> str:
        # JSON keeps fields apart whatever characters object names contain.
        fields = json.dumps(dataclasses.astuple(self), separators=(",", ":"))
        return hashlib.sha256(fields.encode()).hexdigest()


def temp_url_for(db: Database, location: ObjectLocation, *, key: str, lifetime: int,
                 start_delay: int = 0, margin: int = 60, method: str = "GET",
                 digest: str = DEFAULT_DIGEST, now: float | None = None) -> TempURL:
    """The shared temp URL for ``method`` on ``location``, valid at least
    ``start_delay + margin`` seconds from ``now``; a new one (valid ``lifetime``
    seconds) when no cached one is."""
    current = int(time.time() if now is None else now)
    needed = current + start_delay + margin
    account = location.account
    entry = _Entry(method.upper(), account.endpoint, account.name, location.container,
                   location.name, key_id(key), digest, lifetime)
    cache_key = entry.cache_key
    with db.read() as conn:
        found = temp_urls.get(conn, cache_key)
    if found is None or found.expires_at < needed:
        expires_at = _claim(db, entry, cache_key, current, needed)
    else:
        expires_at = found.expires_at
    return sign(location, key=key, expires_at=expires_at, method=entry.method, digest=digest)


def _claim(db: Database, entry: _Entry, cache_key: str, now: int, needed: int) -> int:
    """Create or renew the entry, or take the one another conductor just wrote."""
    expires_at = now + entry.lifetime
    with db.write() as conn:
        found = temp_urls.get(conn, cache_key)
        if found is None:
            temp_urls.insert_if_absent(conn, {**dataclasses.asdict(entry),
                                              "cache_key": cache_key,
                                              "expires_at": expires_at})
        elif found.expires_at < needed:
            temp_urls.renew(conn, cache_key, seen_expires_at=found.expires_at,
                            expires_at=expires_at)
        else:
            return found.expires_at
        purged = temp_urls.purge_expired(conn, now)
        # Whoever won the insert or the renewal, its row is the one to hand out.
        winner = temp_urls.get(conn, cache_key)
    chosen = winner.expires_at if winner is not None else expires_at
    # Names and times only: the URL carries the signature.
    LOG.debug("temp URL for %s %s/%s now valid until %d (%d expired entries purged)",
              entry.method, entry.container, entry.object_name, chosen, purged)
    return chosen
