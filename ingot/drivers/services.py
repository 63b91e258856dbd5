"""What drivers use beyond the node: settings, and the resources a conductor shares.

The CLI runtime builds one Services per process (ingot/cli/wiring.py) and the conductor
hands it to every task. Each resource is built on first use, once, by the builder the
runtime gave: an API-only process never opens the image cache or a Swift session, and a
builder that fails (say, contradictory [glance] options) fails the operation that needed
it, with its message, and is tried again by the next one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ingot.drivers.settings import DriverSettings

if TYPE_CHECKING:
    from ingot.boot import PxeSettings
    from ingot.db.engine import Database
    from ingot.images.cache import ImageCache
    from ingot.images.sources.file import FileAccess
    from ingot.images.sources.glance import GlanceImages
    from ingot.swift.service import SwiftService

T = TypeVar("T")


class Once(Generic[T]):
    """A value built on first use by ``build``; threads asking at once share one build."""

    def __init__(self, build: Callable[[], T]):
        self._build = build
        self._lock = threading.Lock()
        self._built = False
        self._value: T | None = None

    def get(self) -> T:
        with self._lock:
            if not self._built:
                self._value = self._build()
                self._built = True
            return self._value  # type: ignore[return-value] # set with _built


def _missing(what: str) -> Callable[[], Any]:
    def build() -> Any:
        raise RuntimeError(f"{what} is not available in this process")
    return build


class Services:
    def __init__(self, settings: DriverSettings, db: Database, *,
                 image_cache: Callable[[], ImageCache] | None = None,
                 file_access: Callable[[], FileAccess] | None = None,
                 glance: Callable[[], GlanceImages | None] | None = None,
                 swift: Callable[[], SwiftService] | None = None,
                 pxe: Callable[[], PxeSettings] | None = None):
        self.settings = settings
        self.db = db
        self._image_cache: Once[ImageCache] = Once(image_cache or _missing("the image cache"))
        self._file_access: Once[FileAccess] = Once(file_access
                                                   or _missing("file:// image access"))
        self._glance: Once[GlanceImages | None] = Once(glance or (lambda: None))
        self._swift: Once[SwiftService] = Once(swift or _missing("Swift"))
        # Not cached: PxeSettings are cheap, and a bad [pxe] option should be reported
        # by every boot that needs it.
        self._pxe = pxe or _missing("the [pxe] settings")

    @property
    def image_cache(self) -> ImageCache:
        return self._image_cache.get()

    @property
    def file_access(self) -> FileAccess:
        return self._file_access.get()

    @property
    def glance(self) -> GlanceImages | None:
        """None when Glance is not configured; Glance references then fail saying so."""
        return self._glance.get()

    @property
    def swift(self) -> SwiftService:
        return self._swift.get()

    def pxe(self) -> PxeSettings:
        return self._pxe()
