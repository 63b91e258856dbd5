"""The temp URL cache in the database: shared by conductors, renewed before it is unsafe,
keyed by every signature input, purged, and holding no secret."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pathlib
import subprocess
import sys
import threading
import time

import httpx
import pytest

from ingot.db import migrate, temp_urls
from ingot.db.engine import Database
from ingot.db.models import TempURLEntry
from ingot.swift.cache import temp_url_for
from ingot.swift.locations import Account, ObjectLocation
from ingot.swift.service import SwiftService
from ingot.swift.tempurl import TempURL
from tests.servers.swift import SwiftServer
from tests.swift.confs import render
from tests.swift.conftest import ConfFactory

CACHED = {"glance": {"swift_temp_url_cache_enabled": "true"}}
LOCATION = Account("http://127.0.0.1:8080", "AUTH_test").object("glance", "image")
REPO = pathlib.Path(__file__).resolve().parents[2]


def _second_database(db: Database) -> Database:
    return Database(db.url.render_as_string(hide_password=False))


def _entries(db: Database) -> list[TempURLEntry]:
    with db.read() as conn:
        return temp_urls.list_entries(conn)


def _cached(db: Database, *, key: str = "k1", now: float, lifetime: int = 600,
            start_delay: int = 100, margin: int = 60, method: str = "GET",
            digest: str = "sha256", location: ObjectLocation = LOCATION) -> TempURL:
    return temp_url_for(db, location, key=key, lifetime=lifetime, start_delay=start_delay,
                        margin=margin, method=method, digest=digest, now=now)


def test_two_conductors_sharing_a_database_hand_out_the_same_url(
        db: Database, swift_conf: ConfFactory, glance_image: tuple[str, bytes],
        account_key: str) -> None:
    image_id, content = glance_image
    conf = swift_conf(CACHED)
    other_db = _second_database(db)
    try:
        first = SwiftService(conf, db).glance_image_url(image_id)
        later = time.time() + 30
        second = SwiftService(swift_conf(CACHED), other_db).glance_image_url(image_id,
                                                                             now=later)
    finally:
        other_db.dispose()
    assert second.url == first.url
    assert httpx.get(first.url).content == content
    assert len(_entries(db)) == 1


def test_concurrent_first_requests_settle_on_one_url(db: Database) -> None:
    databases = [db, _second_database(db)]
    barrier = threading.Barrier(8)
    results: list[TempURL] = []
    lock = threading.Lock()
    now = time.time()

    def conductor(index: int) -> None:
        barrier.wait(10)
        # Each thread's clock differs a little, as separate conductors' would.
        got = _cached(databases[index % 2], now=now + index * 0.3)
        with lock:
            results.append(got)

    threads = [threading.Thread(target=conductor, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    databases[1].dispose()
    assert len(results) == 8
    assert len({result.url for result in results}) == 1
    assert len(_entries(db)) == 1


def test_conductor_processes_on_one_sqlite_file_share_the_url(
        swift: SwiftServer, swift_conf: ConfFactory, glance_image: tuple[str, bytes],
        account_key: str, tmp_path: pathlib.Path) -> None:
    image_id, content = glance_image
    url = f"sqlite:///{tmp_path}/shared.sqlite"
    sections = {**CACHED, "swift": swift.swift_options(), "database": {"connection": url}}
    config = tmp_path / "conductor.conf"
    config.write_text(render(sections))
    db = Database(url)
    migrate.upgrade(db)
    start_at = time.time() + 3  # after the interpreters have imported ingot
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    processes = [subprocess.Popen([sys.executable, "-m", "tests.swift.conductor_main",
                                   str(config), image_id, str(start_at)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  cwd=REPO, env=env)
                 for _ in range(3)]
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        outputs.append(out.split())
    mine = SwiftService(swift_conf(CACHED), db).glance_image_url(image_id)
    assert len(_entries(db)) == 1
    db.dispose()
    assert {tuple(output) for output in outputs} == {
        (hashlib.sha256(mine.url.encode()).hexdigest(), str(mine.expires_at))}
    assert httpx.get(mine.url).content == content


def test_url_near_expiry_is_not_reused(db: Database) -> None:
    start = time.time()
    first = _cached(db, now=start)  # valid until start + 600
    # Still valid for the start delay (100) plus margin (60): reused.
    assert _cached(db, now=start + 440).url == first.url
    # One second less than that: a new URL, valid for a full lifetime from now.
    renewed = _cached(db, now=start + 441)
    assert renewed.url != first.url
    assert renewed.expires_at == int(start + 441) + 600
    assert _cached(db, now=start + 500).url == renewed.url
    assert len(_entries(db)) == 1


def test_renewed_urls_work_in_swift(db: Database, swift: SwiftServer,
                                    glance_image: tuple[str, bytes], account_key: str) -> None:
    image_id, content = glance_image
    location = Account(swift.url, "AUTH_test").object("glance", image_id)
    start = time.time()
    first = _cached(db, key=account_key, location=location, now=start, lifetime=300,
                    start_delay=0, margin=60)
    renewed = _cached(db, key=account_key, location=location, now=start + 241, lifetime=300,
                      start_delay=0, margin=60)
    assert renewed.url != first.url
    for temp_url in (first, renewed):
        assert httpx.get(temp_url.url).content == content


def test_cache_off_issues_a_new_url_each_time(db: Database, swift_conf: ConfFactory,
                                              glance_image: tuple[str, bytes],
                                              account_key: str) -> None:
    image_id, content = glance_image
    service = SwiftService(swift_conf(), db)
    assert not service.temp_urls.cache_enabled
    now = time.time()
    urls = [service.glance_image_url(image_id, now=now + offset) for offset in (0, 1, 2)]
    assert len({temp_url.url for temp_url in urls}) == 3
    assert urls[0].expires_at == int(now) + 1200
    assert _entries(db) == []
    assert httpx.get(urls[2].url).content == content


def test_key_rotation_makes_a_new_entry(db: Database) -> None:
    now = time.time()
    old = _cached(db, key="old-key", now=now)
    new = _cached(db, key="new-key", now=now + 1)
    assert new.url != old.url
    entries = _entries(db)
    assert len(entries) == 2
    assert len({entry.key_id for entry in entries}) == 2
    assert _cached(db, key="old-key", now=now + 2).url == old.url


def test_rotating_the_account_key_is_picked_up(db: Database, swift: SwiftServer,
                                               swift_conf: ConfFactory,
                                               glance_image: tuple[str, bytes],
                                               account_key: str) -> None:
    image_id, content = glance_image
    service = SwiftService(swift_conf(CACHED), db)
    before = service.glance_image_url(image_id)
    swift.set_account_key("rotated-" + account_key, second=True)
    try:
        # Temp-URL-Key-2 is read first, as Ironic does: the new key gets its own URL.
        after = service.glance_image_url(image_id)
        assert after.url != before.url
        assert httpx.get(after.url).content == content
    finally:
        swift.set_account_key(None, second=True)
    assert service.glance_image_url(image_id).url == before.url
    assert len(_entries(db)) == 2


@pytest.mark.parametrize("change", [{"method": "HEAD"}, {"digest": "sha512"},
                                    {"lifetime": 900},
                                    {"location": LOCATION.account.object("glance", "other")},
                                    {"location": Account("http://other:8080", "AUTH_test")
                                     .object("glance", "image")}])
def test_every_signature_input_is_part_of_the_key(db: Database,
                                                  change: dict[str, object]) -> None:
    now = time.time()
    base = _cached(db, now=now)
    changed = _cached(db, now=now, **change)  # type: ignore[arg-type]
    assert changed.url != base.url
    assert len(_entries(db)) == 2


def test_expired_entries_are_purged(db: Database) -> None:
    long_ago = time.time() - 10_000
    for index in range(5):
        _cached(db, now=long_ago, location=LOCATION.account.object("glance", f"old-{index}"))
    assert len(_entries(db)) == 5
    _cached(db, now=time.time())
    assert [entry.object_name for entry in _entries(db)] == ["image"]


def test_the_cache_holds_no_key_and_no_signature(db: Database) -> None:
    key = "very-secret-temp-url-key"
    temp_url = _cached(db, key=key, now=time.time())
    signature = httpx.URL(temp_url.url).params["temp_url_sig"]
    (entry,) = _entries(db)
    stored = " ".join(str(value) for value in dataclasses.astuple(entry))
    assert key not in stored
    assert signature not in stored
    assert temp_url.url not in stored

