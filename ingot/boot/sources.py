"""Where a boot file comes from: a URL the machine fetches itself, or a file ingot serves.

A Swift temporary URL is just a URL with an expiry: anything with ``url`` and
``expires_at`` (such as ingot.swift.tempurl.TempURL) can be handed in. Only the files
that actually got such a URL skip the local cache; everything else is a CachedFile that
the HTTP root links in (Ironic drops both when use_swift is on, and the machine then
gets 404s for images that are not in Swift).
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Protocol, runtime_checkable

from ingot.common.redaction import redact_url


@runtime_checkable
class ExpiringUrl(Protocol):
    """A URL that stops working at ``expires_at`` (Unix time), e.g. a Swift temp URL."""

    @property
    def url(self) -> str: ...

    @property
    def expires_at(self) -> int | float: ...


@dataclasses.dataclass(frozen=True, slots=True, repr=False)
class BootUrl:
    """A URL for iPXE to fetch; ``expires_at`` is None for URLs that do not expire."""

    url: str
    expires_at: float | None = None

    def __repr__(self) -> str:
        return f"BootUrl(url={redact_url(self.url)!r}, expires_at={self.expires_at})"


@dataclasses.dataclass(frozen=True, slots=True)
class CachedFile:
    """A file in ingot's image cache, to be hard-linked (or copied) into the HTTP root."""

    path: pathlib.Path


BootSource = BootUrl | ExpiringUrl | CachedFile


def as_boot_url(value: str | BootUrl | ExpiringUrl) -> BootUrl:
    if isinstance(value, BootUrl):
        return value
    if isinstance(value, str):
        return BootUrl(value)
    if isinstance(value, ExpiringUrl):
        return BootUrl(value.url, float(value.expires_at))
    raise TypeError(f"not a URL: {type(value).__name__}")


def earliest_expiry(urls: list[BootUrl]) -> float | None:
    expiries = [url.expires_at for url in urls if url.expires_at is not None]
    return min(expiries) if expiries else None
