"""One SwiftService per conductor process and database, built on first use."""

from __future__ import annotations

import threading

from ingot.conf import CONF
from ingot.db.engine import Database
from ingot.swift.service import SwiftService

_lock = threading.Lock()
_services: dict[int, SwiftService] = {}


def swift_service(db: Database) -> SwiftService:
    with _lock:
        service = _services.get(id(db))
        if service is None:
            service = _services[id(db)] = SwiftService(CONF, db)
        return service
