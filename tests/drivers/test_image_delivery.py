"""drivers/image_delivery.py: where the agent gets a node's image, with a real origin."""

from __future__ import annotations

import hashlib
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest

from ingot.db import migrate, nodes
from ingot.db.engine import Database
from ingot.db.models import Node
from ingot.drivers import image_delivery
from ingot.drivers.interfaces import InvalidParameter
from ingot.drivers.services import Services
from ingot.drivers.settings import DriverSettings, Endpoints
from ingot.images.cache import CacheSettings, ImageCache
from ingot.images.sources.file import FileAccess
from ingot.swift.service import SwiftService
from tests.factories import node_row
from tests.servers.origin import Origin
from tests.swift.confs import make_conf

DATA = b"\xeb\x63\x90" + bytes(range(256)) * 64


@pytest.fixture
def db(tmp_path: pathlib.Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path}/delivery.sqlite")
    migrate.upgrade(database)
    yield database
    database.dispose()


def _services(db: Database, tmp_path: pathlib.Path) -> Services:
    settings = DriverSettings(endpoints=Endpoints(http_url="http://192.0.2.1:6386",
                                                  http_root=tmp_path / "httproot"))
    cache = ImageCache(CacheSettings(master_path=str(tmp_path / "cache"),
                                     max_size=1 << 30, ttl=3600))
    # No [swift] or [glance] options: images are not in Swift here.
    swift = SwiftService(make_conf(tmp_path, {}), db)
    return Services(settings, db, image_cache=lambda: cache,
                    file_access=lambda: FileAccess(()), swift=lambda: swift)


def _node(db: Database, **instance_info: Any) -> Node:
    with db.write() as conn:
        return nodes.insert(conn, node_row(instance_info={
            "image_os_hash_algo": "sha256", "image_os_hash_value":
                hashlib.sha256(DATA).hexdigest(), "image_disk_format": "raw",
            **instance_info}))


def test_direct_hands_the_agent_the_origin_url(db: Database, origin: Origin,
                                               tmp_path: pathlib.Path) -> None:
    url = origin.add("/disk.raw", DATA)
    info = image_delivery.plan(_node(db, image_source=url), _services(db, tmp_path))
    assert info["urls"] == [url]
    assert info["id"] == "disk.raw"
    assert info["os_hash_value"] == hashlib.sha256(DATA).hexdigest()
    assert origin.bytes_served("/disk.raw") == 0  # resolved by HEAD, not downloaded


def test_http_serves_the_image_from_this_conductor(db: Database, origin: Origin,
                                                   tmp_path: pathlib.Path) -> None:
    url = origin.add("/disk.raw", DATA)
    node = _node(db, image_source=url, image_download_source="http")
    services = _services(db, tmp_path)
    info = image_delivery.plan(node, services)
    assert info["urls"] == [f"http://192.0.2.1:6386/agent_images/{node.uuid}"]
    served = tmp_path / "httproot" / "agent_images" / node.uuid
    assert served.read_bytes() == DATA
    image_delivery.forget(node.uuid, services)
    assert not served.exists()
    # The cache keeps the master: a second node's plan downloads nothing again.
    before = origin.bytes_served("/disk.raw")
    image_delivery.plan(_node(db, image_source=url, image_download_source="http"), services)
    assert origin.bytes_served("/disk.raw") == before


def test_download_source_precedence_and_refusal(db: Database) -> None:
    with db.write() as conn:
        node = nodes.insert(conn, node_row(instance_info={"image_download_source": "swift"},
                                           driver_info={"image_download_source": "http"}))
        plain = nodes.insert(conn, node_row())
        wrong = nodes.insert(conn, node_row(driver_info={"image_download_source": "ftp"}))
    assert image_delivery.download_source(node, "direct") == "swift"
    assert image_delivery.download_source(plain, "http") == "http"
    with pytest.raises(InvalidParameter, match="driver_info image_download_source 'ftp'"):
        image_delivery.download_source(wrong, "direct")
