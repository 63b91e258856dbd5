"""Building what the drivers use from configuration: once per process, here only.

Drivers get these through the task (conductors) or the API context (validate); nothing
below reads the global options.
"""

from __future__ import annotations

from oslo_config import cfg

from ingot.boot import PxeSettings
from ingot.db.engine import Database
from ingot.drivers.services import Services
from ingot.drivers.settings import DriverSettings
from ingot.images.cache import ImageCache
from ingot.images.sources.errors import ImageSourceUnavailable
from ingot.images.sources.file import FileAccess
from ingot.images.sources.glance import GlanceImages
from ingot.swift.service import SwiftService


def driver_services(conf: cfg.ConfigOpts, db: Database, settings: DriverSettings
                    ) -> Services:

    def glance() -> GlanceImages | None:
        try:
            return GlanceImages.from_conf(conf)
        except ImageSourceUnavailable:
            return None  # Glance references then fail with a message saying so

    return Services(
        settings, db,
        image_cache=lambda: ImageCache.from_conf(conf),
        file_access=lambda: FileAccess.from_conf(conf),
        glance=glance,
        swift=lambda: SwiftService(conf, db),
        pxe=lambda: PxeSettings.from_conf(conf, http_url=settings.endpoints.http_url))
