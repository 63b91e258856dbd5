"""A site's listing taken apart without building its items as Python objects.

For listings passed on unchanged (no projection, in any order) the proxy only needs
each item's UUID and name (paging, the locator), its sort value (the merge) and its
JSON as the site sent it, to splice into the merged answer. msgspec reads just those
while checking the whole answer is JSON; parsing every item with orjson and writing it
out again cost most of a large listing's time. Any answer this cannot take (not JSON,
not the expected shape) returns None, and the caller's full parse decides, so failures
read as before.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any, TypedDict

import msgspec


@dataclasses.dataclass(frozen=True, slots=True)
class Split:
    items: list[dict[str, Any]]  # each item's uuid, name and sort value, as far as it has them
    raw: list[msgspec.Raw]  # each item's JSON as the site sent it
    more: bool  # the answer has a next link


@functools.cache
def _decoders(key: str, sort_key: str | None
              ) -> tuple[msgspec.json.Decoder[Any], msgspec.json.Decoder[Any]]:
    raw = msgspec.defstruct("RawPage", [(key, list[msgspec.Raw]), ("next", Any, None)])
    # Only the fields named here are built; msgspec skips (and checks) the others.
    fields = dict.fromkeys(("uuid", "name", *((sort_key,) if sort_key else ())), Any)
    ident = TypedDict("Ident", fields, total=False)  # type: ignore[misc]
    idents = msgspec.defstruct("IdentPage", [(key, list[ident]), ("next", Any, None)])
    return msgspec.json.Decoder(raw), msgspec.json.Decoder(idents)


def split(content: bytes, key: str, sort_key: str | None = None) -> Split | None:
    """The items under ``key`` of a listing answer (with ``sort_key``'s value), or None
    to parse it fully."""
    # msgspec does not check the UTF-8 of strings it skips (orjson does): an answer
    # that is all ASCII needs no check, any other is decoded once to check it.
    if not content.isascii():
        try:
            content.decode()
        except UnicodeDecodeError:
            return None
    raw_decoder, ident_decoder = _decoders(key, sort_key)
    try:
        raw_page = raw_decoder.decode(content)
        ident_page = ident_decoder.decode(content)
    except msgspec.DecodeError:
        return None
    items: list[dict[str, Any]] = getattr(ident_page, key)
    return Split(items, getattr(raw_page, key), bool(raw_page.next))


def join(key: str, items: Sequence[bytes | msgspec.Raw], next_link: bytes | None) -> bytes:
    """The merged answer around the items' JSON; ``next_link`` the JSON of the next
    link, if any. The answer is written in one copy: the framing goes onto the first
    and last items, not around the joined items."""
    head = b'{"' + key.encode() + b'":['
    tail = b'],"next":' + next_link + b"}" if next_link is not None else b"]}"
    if not items:
        return head + tail
    parts = list(items)
    parts[0] = head + parts[0]
    parts[-1] = bytes(parts[-1]) + tail
    return b",".join(parts)
