"""SwiftService, as the conductor uses it, against the real Swift: Glance images under
Glance's layout, swift:// references, keys, and configuration errors that name options."""

from __future__ import annotations

import logging
import pathlib
import secrets
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from ingot.db import migrate
from ingot.db.engine import Database
from ingot.swift.errors import InvalidSwiftReference, SwiftConfigError, SwiftOperationError
from ingot.swift.service import SwiftService
from ingot.swift.settings import TempURLSettings
from tests.servers.swift import SwiftServer
from tests.swift.confs import make_conf
from tests.swift.conftest import ConfFactory


@pytest.fixture
def sqlite_db(tmp_path: pathlib.Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path}/service.sqlite")
    migrate.upgrade(db)
    yield db
    db.dispose()


def _put(swift: SwiftServer, container: str, name: str, content: bytes) -> None:
    connection = swift.connection()
    try:
        connection.put_container(container)
        connection.put_object(container, name, content)
    finally:
        connection.close()


@pytest.mark.parametrize(("seed", "prefix_length"), [(0, None), (8, 8), (10, 11)])
def test_glance_images_are_found_under_glance_container_naming(
        swift: SwiftServer, swift_conf: ConfFactory, sqlite_db: Database, account_key: str,
        seed: int, prefix_length: int | None) -> None:
    image_id = str(uuid.uuid4())
    container = "glance" if prefix_length is None else f"glance_{image_id[:prefix_length]}"
    content = secrets.token_bytes(4096)
    _put(swift, container, image_id, content)
    conf = swift_conf({"glance": {"swift_store_multiple_containers_seed": seed}})
    temp_url = SwiftService(conf, sqlite_db).glance_image_url(image_id)
    assert f"/v1/AUTH_test/{container}/{image_id}?" in temp_url.url
    assert httpx.get(temp_url.url).content == content


def test_glance_options_alone_are_enough(swift: SwiftServer, tmp_path: pathlib.Path,
                                         sqlite_db: Database,
                                         glance_image: tuple[str, bytes],
                                         account_key: str) -> None:
    # No [swift] credentials: endpoint with its /v1/AUTH_x suffix, and the key, from [glance].
    image_id, content = glance_image
    conf = make_conf(tmp_path, {"glance": {"swift_endpoint_url": swift.endpoint + "/",
                                           "swift_temp_url_key": account_key}})
    temp_url = SwiftService(conf, sqlite_db).glance_image_url(image_id)
    assert temp_url.url.startswith(f"{swift.endpoint}/glance/{image_id}?")
    assert httpx.get(temp_url.url).content == content


def test_explicit_account_and_endpoint_win(swift: SwiftServer, swift_conf: ConfFactory,
                                           sqlite_db: Database,
                                           glance_image: tuple[str, bytes],
                                           account_key: str) -> None:
    image_id, content = glance_image
    conf = swift_conf({"glance": {"swift_endpoint_url": swift.url,
                                  "swift_account": "AUTH_test"}})
    temp_url = SwiftService(conf, sqlite_db).glance_image_url(image_id)
    assert httpx.get(temp_url.url).content == content


def test_swift_references_get_temp_urls(swift: SwiftServer, swift_conf: ConfFactory,
                                        sqlite_db: Database, account_key: str) -> None:
    content = secrets.token_bytes(2048)
    _put(swift, "images", "ubuntu/noble.raw", content)
    service = SwiftService(swift_conf(), sqlite_db)
    temp_url = service.swift_ref_url("swift://images/ubuntu/noble.raw")
    assert httpx.get(temp_url.url).content == content
    with pytest.raises(InvalidSwiftReference):
        service.swift_ref_url("swift://images")


def test_sha512_digest_option(swift_conf: ConfFactory, sqlite_db: Database,
                              glance_image: tuple[str, bytes], account_key: str) -> None:
    image_id, content = glance_image
    conf = swift_conf({"swift": {"temp_url_digest": "sha512"}})
    temp_url = SwiftService(conf, sqlite_db).glance_image_url(image_id)
    assert "temp_url_sig=sha512:" in temp_url.url
    assert httpx.get(temp_url.url).content == content


def test_missing_endpoint_names_the_option(tmp_path: pathlib.Path,
                                           sqlite_db: Database) -> None:
    service = SwiftService(make_conf(tmp_path, {}), sqlite_db)
    with pytest.raises(SwiftConfigError, match=r"\[glance\] swift_endpoint_url"):
        service.glance_image_url(str(uuid.uuid4()))


def test_missing_account_names_the_option(tmp_path: pathlib.Path,
                                          sqlite_db: Database) -> None:
    conf = make_conf(tmp_path, {"glance": {"swift_endpoint_url": "http://127.0.0.1:9",
                                           "swift_temp_url_key": "k"}})
    with pytest.raises(SwiftConfigError, match=r"\[glance\] swift_account"):
        SwiftService(conf, sqlite_db).glance_image_url(str(uuid.uuid4()))


def test_missing_key_names_the_option(swift: SwiftServer, swift_conf: ConfFactory,
                                      sqlite_db: Database, account_key: str) -> None:
    service = SwiftService(swift_conf(), sqlite_db)
    swift.set_account_key(None)
    try:
        with pytest.raises(SwiftConfigError, match=r"\[glance\] swift_temp_url_key"):
            service.glance_image_url(str(uuid.uuid4()))
    finally:
        swift.set_account_key(account_key)


def test_wrong_credentials_are_a_swift_error_without_the_password(
        swift: SwiftServer, tmp_path: pathlib.Path, sqlite_db: Database) -> None:
    password = "wrong-" + secrets.token_hex(8)
    conf = make_conf(tmp_path, {"swift": {**swift.swift_options(), "password": password}})
    with pytest.raises(SwiftOperationError) as error:
        SwiftService(conf, sqlite_db).store_configdrive(str(uuid.uuid4()), "H4sI")
    assert password not in str(error.value)


def test_duration_shorter_than_start_delay_is_refused(tmp_path: pathlib.Path) -> None:
    conf = make_conf(tmp_path, {"glance": {
        "swift_temp_url_duration": 100,
        "swift_temp_url_expected_download_start_delay": 200}})
    with pytest.raises(SwiftConfigError, match="swift_temp_url_expected_download_start_delay"):
        TempURLSettings.from_conf(conf)


def test_cache_that_could_never_reuse_is_refused(tmp_path: pathlib.Path) -> None:
    conf = make_conf(tmp_path, {"glance": {"swift_temp_url_cache_enabled": "true",
                                           "swift_temp_url_duration": 100,
                                           "swift_temp_url_expected_download_start_delay": 50}})
    with pytest.raises(SwiftConfigError, match="swift_temp_url_reuse_margin"):
        TempURLSettings.from_conf(conf)


def test_cachetime_enables_the_cache_and_sets_the_lifetime(
        swift_conf: ConfFactory, sqlite_db: Database, glance_image: tuple[str, bytes],
        account_key: str) -> None:
    image_id, _ = glance_image
    service = SwiftService(swift_conf({"glance": {"swift_temp_url_cachetime": 900}}),
                           sqlite_db)
    settings = service.temp_urls
    assert (settings.cache_enabled, settings.lifetime, settings.reuse_margin) == (True, 900, 90)
    now = time.time()
    first = service.glance_image_url(image_id, now=now)
    assert first.expires_at == int(now) + 900
    assert service.glance_image_url(image_id, now=now + 60).url == first.url


def test_settings_repr_hides_the_key(tmp_path: pathlib.Path) -> None:
    key = "secret-" + secrets.token_hex(8)
    settings = TempURLSettings.from_conf(make_conf(tmp_path, {
        "glance": {"swift_temp_url_key": key}}))
    assert key not in repr(settings)


def test_no_secret_reaches_the_logs(swift: SwiftServer, swift_conf: ConfFactory,
                                    sqlite_db: Database, glance_image: tuple[str, bytes],
                                    account_key: str,
                                    caplog: pytest.LogCaptureFixture) -> None:
    image_id, _ = glance_image
    caplog.set_level(logging.DEBUG)
    service = SwiftService(swift_conf(), sqlite_db)
    temp_url = service.glance_image_url(image_id)
    node = str(uuid.uuid4())
    service.store_configdrive(node, "H4sIAAAAAAAAA")
    service.delete_configdrive(node)
    signature = httpx.URL(temp_url.url).params["temp_url_sig"]
    token = swift.token()
    assert caplog.records  # swiftclient and keystoneauth1 did log their requests
    for secret in (account_key, signature, token, swift.key):
        assert secret not in caplog.text
