"""Which site holds a node (or a port): a bounded cache filled from listings and lookups.

Entries are dropped when their site answers 404 and on delete; the routing layer then
polls every site. Each worker process has its own cache: a miss only costs one parallel
poll.
"""

from __future__ import annotations

import collections
import itertools
import operator
from collections import OrderedDict
from typing import Any, NamedTuple


class _Entry(NamedTuple):
    site: str
    name: str | None


class _Listed(NamedTuple):
    uuids: list[Any]
    names: list[Any]
    keys: list[str]
    changes: int


class Locator:
    """UUID -> site, plus name -> UUID for nodes; least recently used entries go first."""

    def __init__(self, size: int):
        self.size = size
        self._by_uuid: OrderedDict[str, _Entry] = OrderedDict()
        self._by_name: dict[str, str] = {}
        # Bumped by every change but recency: a listing remembered when the count was
        # the same is still exactly what the cache holds.
        self._changes = 0
        # Per site, its last few listings as remembered: UUIDs and names as listed, the
        # cache keys they became, and the change count after.
        self._listed: dict[str, collections.deque[_Listed]] = {}

    def __len__(self) -> int:
        return len(self._by_uuid)

    def uuid_of(self, ident: str) -> str | None:
        lowered = ident.lower()
        if lowered in self._by_uuid:
            return lowered
        return self._by_name.get(ident)

    def site_of(self, ident: str) -> str | None:
        uuid = self.uuid_of(ident)
        if uuid is None:
            return None
        self._by_uuid.move_to_end(uuid)
        return self._by_uuid[uuid].site

    def remember(self, uuid: str, site: str, name: str | None = None) -> None:
        uuid = uuid.lower()
        known = self._by_uuid.get(uuid)
        if known is not None and known.site == site and known.name == name:
            # The common case of a listing: nothing changed, only recency.
            self._by_uuid.move_to_end(uuid)
            return
        self._changes += 1
        old = self._by_uuid.pop(uuid, None)
        if old is not None and old.name and self._by_name.get(old.name) == uuid:
            del self._by_name[old.name]
        if name:
            # A name now used by another node (renamed, or re-created elsewhere) moves.
            self._by_name[name] = uuid
        self._by_uuid[uuid] = _Entry(site, name)
        while len(self._by_uuid) > self.size:
            evicted_uuid, evicted = self._by_uuid.popitem(last=False)
            if evicted.name and self._by_name.get(evicted.name) == evicted_uuid:
                del self._by_name[evicted.name]

    def remember_listed(self, site: str, items: list[dict[str, Any]], named: bool) -> None:
        """remember() for every item of a listing. Listings repeat the same items, so
        the common case (known, same site and name: only recency changes) is found and
        refreshed without a Python step per item; a listing the same as one of the
        site's last few, with nothing changed in between, only refreshes recency."""
        uuids: list[Any] = list(map(dict.get, items, itertools.repeat("uuid")))
        names: list[Any] = list(map(dict.get, items, itertools.repeat("name"))) if named \
            else [None] * len(items)
        listed = self._listed.setdefault(site, collections.deque(maxlen=4))
        for known in listed:
            if known.changes == self._changes and known.uuids == uuids \
                    and known.names == names:
                collections.deque(map(self._by_uuid.move_to_end, known.keys), maxlen=0)
                return
        wanted = list(zip(itertools.repeat(site), names))
        same = list(map(operator.eq, map(self._by_uuid.get, uuids), wanted))
        collections.deque(map(self._by_uuid.move_to_end, itertools.compress(uuids, same)),
                          maxlen=0)
        if not all(same):
            for uuid, (_, name), known in zip(uuids, wanted, same, strict=True):
                if not known and isinstance(uuid, str):
                    self.remember(uuid, site, name if isinstance(name, str) else None)
        keys = [uuid.lower() for uuid in uuids if isinstance(uuid, str)]
        if all(map(self._by_uuid.__contains__, keys)):
            # Not if the listing outgrew the cache: its own first items were evicted.
            listed.append(_Listed(uuids, names, keys, self._changes))

    def forget(self, ident: str) -> None:
        uuid = self.uuid_of(ident)
        if uuid is None:
            return
        self._changes += 1
        entry = self._by_uuid.pop(uuid, None)
        if entry is not None and entry.name and self._by_name.get(entry.name) == uuid:
            del self._by_name[entry.name]
