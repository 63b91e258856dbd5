"""Which site holds a node (or a port): a bounded cache filled from listings and lookups.

Entries are dropped when their site answers 404 and on delete; the routing layer then
polls every site. Each worker process has its own cache: a miss only costs one parallel
poll.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from typing import Any


@dataclasses.dataclass(slots=True)
class _Entry:
    site: str
    name: str | None


class Locator:
    """UUID -> site, plus name -> UUID for nodes; least recently used entries go first."""

    def __init__(self, size: int):
        self.size = size
        self._by_uuid: OrderedDict[str, _Entry] = OrderedDict()
        self._by_name: dict[str, str] = {}

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
        """remember() for every item of a listing, with the common case (known, same
        site and name) kept to two dict look-ups: listings repeat the same items."""
        known, refresh = self._by_uuid, self._by_uuid.move_to_end
        for item in items:
            uuid = item.get("uuid")
            name = item.get("name") if named else None
            entry = known.get(uuid)  # type: ignore[arg-type]
            if entry is not None and entry.site == site and entry.name == name:
                refresh(uuid)  # type: ignore[arg-type]
            elif isinstance(uuid, str):
                self.remember(uuid, site, name if isinstance(name, str) else None)

    def forget(self, ident: str) -> None:
        uuid = self.uuid_of(ident)
        if uuid is None:
            return
        entry = self._by_uuid.pop(uuid, None)
        if entry is not None and entry.name and self._by_name.get(entry.name) == uuid:
            del self._by_name[entry.name]
