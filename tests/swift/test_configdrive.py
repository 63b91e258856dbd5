"""Config drives in the real Swift: stored with X-Delete-After, fetched by the agent through
the temp URL, replaced on rebuild, gone after delete or once their time is up."""

from __future__ import annotations

import pathlib
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from ingot.agent.standby import DownloadSettings, configdrive_fetcher
from ingot.configdrive.build import build_iso, encode
from ingot.configdrive.check import decode_image
from ingot.db import migrate
from ingot.db.engine import Database
from ingot.images.proxies import ProxyPolicy
from ingot.swift.service import SwiftService
from ingot.swift.settings import ConfigDriveSettings
from tests.servers.swift import SwiftServer
from tests.swift.confs import make_conf
from tests.swift.conftest import ConfFactory


def _iso(hostname: str) -> bytes:
    return build_iso(meta_data={"hostname": hostname}, user_data=b"#cloud-config\n",
                     network_data=None, vendor_data=None, node_uuid=str(uuid.uuid4()),
                     node_name=hostname)


@pytest.fixture
def service(swift_conf: ConfFactory, tmp_path: pathlib.Path,
            account_key: str) -> Iterator[SwiftService]:
    db = Database(f"sqlite:///{tmp_path}/configdrive.sqlite")
    migrate.upgrade(db)
    yield SwiftService(swift_conf({"deploy": {"configdrive_use_object_store": "true"}}), db)
    db.dispose()


def test_stored_drive_has_x_delete_after_and_a_matching_temp_url(
        service: SwiftService, swift: SwiftServer) -> None:
    node = str(uuid.uuid4())
    iso = _iso("stored")
    before = int(time.time())
    temp_url = service.store_configdrive(node, encode(iso), ttl=600)
    info = service.configdrive_info(node)
    assert info is not None
    assert info.delete_at is not None
    assert before + 600 <= info.delete_at <= int(time.time()) + 601
    assert before + 600 <= temp_url.expires_at <= info.delete_at
    assert f"/v1/AUTH_test/ironic_configdrive_container/configdrive-{node}?" in temp_url.url
    # What the agent does with the URL: fetch, then decode the gzip+base64 text.
    fetch = configdrive_fetcher(ProxyPolicy(), DownloadSettings())
    assert decode_image(fetch(temp_url.url)) == iso
    # The expiry is Swift's own metadata, seen by any client.
    head = httpx.head(f"{swift.endpoint}/ironic_configdrive_container/configdrive-{node}",
                      headers={"X-Auth-Token": swift.token()})
    assert int(head.headers["x-delete-at"]) == info.delete_at
    service.delete_configdrive(node)


def test_deleted_drive_is_gone(service: SwiftService) -> None:
    node = str(uuid.uuid4())
    temp_url = service.store_configdrive(node, encode(_iso("deleted")))
    assert httpx.head(temp_url.url).status_code == 200
    assert service.delete_configdrive(node) is True
    assert service.configdrive_info(node) is None
    assert httpx.get(temp_url.url).status_code == 404
    assert service.delete_configdrive(node) is False


def test_rebuild_replaces_the_drive(service: SwiftService) -> None:
    node = str(uuid.uuid4())
    service.store_configdrive(node, encode(_iso("first")))
    second_iso = _iso("second")
    temp_url = service.store_configdrive(node, second_iso)  # raw ISO bytes work too
    assert decode_image(httpx.get(temp_url.url).content) == second_iso
    service.delete_configdrive(node)


def test_drive_expires_in_swift(service: SwiftService, swift: SwiftServer) -> None:
    node = str(uuid.uuid4())
    temp_url = service.store_configdrive(node, encode(_iso("short")), ttl=2)
    assert httpx.head(temp_url.url).status_code == 200
    time.sleep(3.2)
    assert service.configdrive_info(node) is None  # X-Delete-After took effect
    assert httpx.get(temp_url.url).status_code == 401  # and the URL has expired


def test_url_configdrives_are_not_stored(service: SwiftService) -> None:
    with pytest.raises(ValueError, match="URL"):
        service.store_configdrive(str(uuid.uuid4()), "http://example.com/drive.iso.gz")


def test_container_and_default_ttl_come_from_options(
        swift_conf: ConfFactory, tmp_path: pathlib.Path, account_key: str) -> None:
    db = Database(f"sqlite:///{tmp_path}/options.sqlite")
    migrate.upgrade(db)
    conf = swift_conf({"conductor": {"configdrive_swift_container": "drives",
                                     "configdrive_swift_temp_url_duration": 900}})
    service = SwiftService(conf, db)
    node = str(uuid.uuid4())
    now = time.time()
    temp_url = service.store_configdrive(node, encode(_iso("options")), now=now)
    assert f"/drives/configdrive-{node}?" in temp_url.url
    assert temp_url.expires_at == int(now) + 900
    assert service.delete_configdrive(node)
    db.dispose()


@pytest.mark.parametrize(("options", "ttl"), [
    ({}, 1920),  # deploy_callback_timeout 1800 + 120, as Ironic
    ({"conductor": {"deploy_callback_timeout": 0}}, 1800),
    ({"conductor": {"configdrive_swift_temp_url_duration": 60}}, 60),
])
def test_default_ttl(tmp_path: pathlib.Path, options: dict[str, dict[str, object]],
                     ttl: int) -> None:
    assert ConfigDriveSettings.from_conf(make_conf(tmp_path, options)).ttl == ttl


def test_deprecated_option_name_still_works(tmp_path: pathlib.Path) -> None:
    conf = make_conf(tmp_path, {"conductor": {"configdrive_use_swift": "true"}})
    assert ConfigDriveSettings.from_conf(conf).use_object_store is True
