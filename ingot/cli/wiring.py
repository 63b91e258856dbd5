"""Building what the drivers use from configuration: once per process, here only.

Drivers get these through the task (conductors) or the API context (validate); nothing
below reads the global options.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from oslo_config import cfg

from ingot.boot import PxeSettings
from ingot.db.engine import Database
from ingot.drivers.services import Services
from ingot.drivers.settings import DriverSettings
from ingot.images.cache import ImageCache
from ingot.images.sources.errors import ImageSourceUnavailable
from ingot.images.sources.file import FileAccess

if TYPE_CHECKING:
    from ingot.images.sources.glance import GlanceImages
    from ingot.swift.service import SwiftService


def driver_services(conf: cfg.ConfigOpts, db: Database, settings: DriverSettings
                    ) -> Services:

    # Glance (keystoneauth1) and Swift (swiftclient, requests) are imported when a
    # deploy first needs them: a conductor without them is 10 MB smaller.
    def glance() -> GlanceImages | None:
        from ingot.images.sources.glance import GlanceImages  # noqa: PLC0415

        try:
            return GlanceImages.from_conf(conf)
        except ImageSourceUnavailable:
            return None  # Glance references then fail with a message saying so

    def swift() -> SwiftService:
        from ingot.swift.service import SwiftService  # noqa: PLC0415

        return SwiftService(conf, db)

    return Services(
        settings, db,
        image_cache=lambda: ImageCache.from_conf(conf),
        file_access=lambda: FileAccess.from_conf(conf),
        glance=glance,
        swift=swift,
        pxe=lambda: PxeSettings.from_conf(conf, http_url=settings.endpoints.http_url))
