"""One conductor in its own process, for the cache tests:

    python -m tests.swift.conductor_main CONFIG_FILE IMAGE_ID START_AT

waits until Unix time START_AT (so that several start together), asks for the image's
temp URL through the database of [database] connection, and prints the URL's SHA-256
(not the URL: it carries a signature) and its expiry.
"""

from __future__ import annotations

import hashlib
import pathlib
import sys
import time

from ingot.db.engine import Database
from ingot.swift.service import SwiftService
from tests.swift.confs import load_conf


def main(argv: list[str]) -> None:
    config, image_id, start_at = argv
    conf = load_conf(pathlib.Path(config))
    db = Database(conf.database.connection)
    service = SwiftService(conf, db)
    time.sleep(max(0.0, float(start_at) - time.time()))
    temp_url = service.glance_image_url(image_id)
    print(hashlib.sha256(temp_url.url.encode()).hexdigest(), temp_url.expires_at)
    db.dispose()


if __name__ == "__main__":
    main(sys.argv[1:])
