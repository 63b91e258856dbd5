"""The image cache against real HTTP origins: hits and misses, freshness from stored
validators, one download for several processes, cleanup that spares entries in use,
and copies across filesystems."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import multiprocessing
import os
import pathlib
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ingot.images.cache import CacheError, CacheSettings, FileLock, ImageCache, Placed
from ingot.images.checksum import ChecksumMismatch
from ingot.images.sources import dispatch
from ingot.images.sources.errors import ImageSourceUnavailable
from ingot.images.sources.record import ImageSource
from tests.images.sources.mounts import other_filesystem
from tests.servers.origin import Fault, Origin, Validators

KIB = 1024


def _settings(root: pathlib.Path, **changes: Any) -> CacheSettings:
    return dataclasses.replace(CacheSettings(str(root), max_size=1 << 30, ttl=3600.0,
                                             lock_timeout=60.0), **changes)


def _info(data: bytes) -> dict[str, str]:
    return {"image_os_hash_algo": "sha256",
            "image_os_hash_value": hashlib.sha256(data).hexdigest()}


def _resolve(url: str, data: bytes) -> ImageSource:
    return dispatch.resolve(url, _info(data), dispatch.SourceAccess())


def _fetch(cache: ImageCache, url: str, data: bytes, dest: pathlib.Path) -> Placed:
    source = _resolve(url, data)
    return cache.fetch(source, dispatch.fetcher(source, dispatch.SourceAccess()),
                       source.expected_digest(allow_md5=False), str(dest))


def _gets(origin: Origin, path: str) -> int:
    return sum(1 for hit in origin.hits_for(path) if hit.body_bytes > 0)


@pytest.fixture
def cache(tmp_path: pathlib.Path) -> ImageCache:
    return ImageCache(_settings(tmp_path / "master"))


def test_miss_then_hit(origin: Origin, cache: ImageCache, tmp_path: pathlib.Path) -> None:
    data = secrets.token_bytes(500 * KIB)
    url = origin.add("/disk.img", data)
    first = _fetch(cache, url, data, tmp_path / "node-1")
    second = _fetch(cache, url, data, tmp_path / "node-2")
    assert (first.hit, first.fetch_method, first.method) == (False, "download", "hardlink")
    assert (second.hit, second.fetch_method, second.method) == (True, None, "hardlink")
    assert _gets(origin, "/disk.img") == 1
    master = pathlib.Path(cache.data_path(first.entry.key))
    assert master.stat().st_ino == (tmp_path / "node-2").stat().st_ino
    assert (tmp_path / "node-2").read_bytes() == data
    assert second.entry.last_used >= first.entry.last_used


def test_metadata_is_kept_next_to_the_entry(origin: Origin,
                                            cache: ImageCache, tmp_path: pathlib.Path) -> None:
    data = secrets.token_bytes(10 * KIB)
    origin.add("/m.img", data, validators=Validators('"abc"', "Wed, 01 Jan 2025 00:00:00 GMT"))
    placed = _fetch(cache, origin.url + "/m.img", data, tmp_path / "node")
    stored = json.loads(pathlib.Path(cache.data_path(placed.entry.key) + ".json").read_text())
    assert stored["source"] == origin.url + "/m.img"
    assert stored["freshness"]["etag"] == '"abc"'
    assert stored["freshness"]["last_modified"] == "Wed, 01 Jan 2025 00:00:00 GMT"
    assert stored["digests"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert stored["size"] == len(data)
    assert abs(stored["fetched_at"] - time.time()) < 60


def test_new_etag_is_fetched_again_even_with_an_older_last_modified(
        origin: Origin, cache: ImageCache, tmp_path: pathlib.Path) -> None:
    data = secrets.token_bytes(20 * KIB)
    url = origin.url + "/rsynced.img"
    origin.add("/rsynced.img", data, validators=Validators('"v1"', "Wed, 01 Jan 2025 00:00:00 GMT"))
    assert not _fetch(cache, url, data, tmp_path / "a").hit
    assert _fetch(cache, url, data, tmp_path / "b").hit  # same validators: a hit
    # Replaced by a file with an older modification time (rsync -t, a restore...).
    origin.add("/rsynced.img", data, validators=Validators('"v2"', "Mon, 01 Jan 2024 00:00:00 GMT"))
    again = _fetch(cache, url, data, tmp_path / "c")
    assert (again.hit, origin.gets("/rsynced.img")) == (False, 2)
    assert again.entry.etag == '"v2"'


def test_older_last_modified_without_etag_is_fetched_again(origin: Origin,
                                                           cache: ImageCache,
                                                           tmp_path: pathlib.Path) -> None:
    # As Python's file server: Last-Modified from the file's mtime, no ETag.
    data = secrets.token_bytes(30 * KIB)
    url = origin.add("/disk.img", data,
                     validators=Validators(None, "Wed, 01 Jan 2025 00:00:00 GMT"))
    assert not _fetch(cache, url, data, tmp_path / "a").hit
    assert _fetch(cache, url, data, tmp_path / "b").hit
    origin.add("/disk.img", data,
               validators=Validators(None, "Mon, 01 Jan 2024 00:00:00 GMT"))  # a year older
    refreshed = _fetch(cache, url, data, tmp_path / "c")
    assert not refreshed.hit
    assert refreshed.entry.last_modified == "Mon, 01 Jan 2024 00:00:00 GMT"
    assert origin.gets("/disk.img") == 2


def test_changed_checksum_is_fetched_again_with_unchanged_validators(
        origin: Origin, cache: ImageCache, tmp_path: pathlib.Path) -> None:
    old, new = secrets.token_bytes(KIB), secrets.token_bytes(KIB)
    url = origin.url + "/sticky.img"
    # A broken origin that keeps its ETag across content changes.
    origin.add("/sticky.img", old, validators=Validators('"same"', None))
    _fetch(cache, url, old, tmp_path / "a")
    origin.add("/sticky.img", new, validators=Validators('"same"', None))
    placed = _fetch(cache, url, new, tmp_path / "b")  # the operator updated the checksum
    assert not placed.hit
    assert (tmp_path / "b").read_bytes() == new


def test_digest_mismatch_publishes_nothing(origin: Origin, cache: ImageCache,
                                           tmp_path: pathlib.Path) -> None:
    data = secrets.token_bytes(50 * KIB)
    url = origin.add("/corrupt.img", data)
    source = dispatch.resolve(url, _info(b"other bytes"), dispatch.SourceAccess())
    with pytest.raises(ChecksumMismatch):
        cache.fetch(source, dispatch.fetcher(source, dispatch.SourceAccess()),
                    source.expected_digest(allow_md5=False), str(tmp_path / "node"))
    assert not (tmp_path / "node").exists()
    assert [name for name in os.listdir(cache.root) if not name.endswith(".lock")] == []


def test_truncated_download_publishes_nothing(origin: Origin, cache: ImageCache,
                                              tmp_path: pathlib.Path) -> None:
    data = secrets.token_bytes(300 * KIB)
    url = origin.add("/short.img", data, Fault(drop_after=100 * KIB, drops=1))
    with pytest.raises(ImageSourceUnavailable, match=r"short\.img"):
        _fetch(cache, url, data, tmp_path / "node")
    assert [name for name in os.listdir(cache.root) if not name.endswith(".lock")] == []
    assert _fetch(cache, url, data, tmp_path / "node").fetch_method == "download"


def _fetch_in_another_process(root: str, url: str, digest: str, dest: str) -> bool:
    cache = ImageCache(CacheSettings(root, max_size=1 << 30, ttl=3600.0, lock_timeout=120))
    access = dispatch.SourceAccess()
    source = dispatch.resolve(url, {"image_os_hash_algo": "sha256",
                                    "image_os_hash_value": digest}, access)
    placed = cache.fetch(source, dispatch.fetcher(source, access),
                         source.expected_digest(allow_md5=False), dest)
    return placed.hit


def test_several_processes_download_one_image_once(origin: Origin, cache: ImageCache,
                                                   tmp_path: pathlib.Path) -> None:
    data = secrets.token_bytes(2 << 20)
    # About 1 s of transfer, so the processes overlap while it downloads.
    url = origin.add("/fleet.img", data, Fault(delay=0.03))
    digest = hashlib.sha256(data).hexdigest()
    jobs = [(cache.root, url, digest, str(tmp_path / f"node-{index}")) for index in range(4)]
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        hits = pool.starmap(_fetch_in_another_process, jobs, chunksize=1)
    assert sorted(hits) == [False, True, True, True]
    assert _gets(origin, "/fleet.img") == 1
    assert origin.bytes_served("/fleet.img") == len(data)
    inodes = {(tmp_path / f"node-{index}").stat().st_ino for index in range(4)}
    assert len(inodes) == 1
    assert (tmp_path / "node-3").read_bytes() == data


def test_vanished_entry_is_fetched_again(origin: Origin, cache: ImageCache,
                                         tmp_path: pathlib.Path) -> None:
    data = secrets.token_bytes(40 * KIB)
    url = origin.add("/gone.img", data)
    first = _fetch(cache, url, data, tmp_path / "a")
    os.unlink(cache.data_path(first.entry.key))  # removed behind the cache's back
    again = _fetch(cache, url, data, tmp_path / "b")
    assert (again.hit, _gets(origin, "/gone.img")) == (False, 2)
    assert (tmp_path / "b").read_bytes() == data


def test_copy_when_the_destination_is_on_another_filesystem(
        origin: Origin, cache: ImageCache, tmp_path: pathlib.Path) -> None:
    data = secrets.token_bytes(256 * KIB)
    url = origin.add("/far.img", data)
    with other_filesystem(tmp_path) as elsewhere:
        missed = _fetch(cache, url, data, elsewhere / "node-1")
        hit = _fetch(cache, url, data, elsewhere / "node-2")
        assert (missed.method, hit.method, hit.hit) == ("copy", "copy", True)
        assert (elsewhere / "node-2").read_bytes() == data
        master = os.stat(cache.data_path(hit.entry.key))
        assert master.st_nlink == 1  # copies are not links: the entry is not in use
        assert (elsewhere / "node-1").stat().st_dev != master.st_dev


def test_link_places_an_existing_entry(origin: Origin, cache: ImageCache,
                                       tmp_path: pathlib.Path) -> None:
    data = secrets.token_bytes(KIB)
    placed = _fetch(cache, origin.add("/l.img", data), data, tmp_path / "a")
    again = cache.link(placed.entry.key, str(tmp_path / "b"))
    assert (again.hit, again.method) == (True, "hardlink")
    with pytest.raises(KeyError):
        cache.link("00000000-0000-0000-0000-000000000000", str(tmp_path / "c"))


def _three_entries(origin: Origin, cache: ImageCache,
                   tmp_path: pathlib.Path) -> dict[str, Placed]:
    """Entries a, b, c of 100 KiB, used in that order; their links out are removed."""
    placed = {}
    for name in ("a", "b", "c"):
        data = secrets.token_bytes(100 * KIB)
        placed[name] = _fetch(cache, origin.add(f"/{name}.img", data), data,
                              tmp_path / f"out-{name}")
        time.sleep(0.01)
    for name in placed:
        (tmp_path / f"out-{name}").unlink()
    return placed


@contextlib.contextmanager
def _held(cache: ImageCache, key: str) -> Iterator[None]:
    lock = FileLock(cache.data_path(key) + ".lock")
    assert lock.acquire(1.0)
    try:
        yield
    finally:
        lock.release()


def test_cleanup_by_ttl_spares_entries_in_use(origin: Origin, cache: ImageCache,
                                              tmp_path: pathlib.Path) -> None:
    entries = _three_entries(origin, cache, tmp_path)
    key = {name: placed.entry.key for name, placed in entries.items()}
    cache.link(key["a"], str(tmp_path / "node-a"))  # a node is using a
    with _held(cache, key["b"]):  # another process is fetching or linking b
        report = cache.clean_up(now=time.time() + 3600 + 60)
    assert [(item.key, item.reason) for item in report.removed] == [(key["c"], "ttl")]
    assert set(report.in_use) == {key["a"], key["b"]}
    assert report.freed == 100 * KIB
    assert os.path.exists(cache.data_path(key["a"]))
    assert os.path.exists(cache.data_path(key["b"]))
    assert not os.path.exists(cache.data_path(key["c"]))
    assert not os.path.exists(cache.data_path(key["c"]) + ".json")
    assert (tmp_path / "node-a").stat().st_nlink == 2


def test_nothing_expires_before_the_ttl(origin: Origin, cache: ImageCache,
                                        tmp_path: pathlib.Path) -> None:
    _three_entries(origin, cache, tmp_path)
    report = cache.clean_up()
    assert (report.removed, report.bytes_after) == ((), 300 * KIB)


def test_cleanup_by_size_removes_least_recently_used_unused_entries(
        origin: Origin, tmp_path: pathlib.Path) -> None:
    cache = ImageCache(_settings(tmp_path / "master", max_size=150 * KIB))
    entries = {}
    for name in ("a", "b", "c", "d"):  # each fetch cleans up: keep them all in use first
        data = secrets.token_bytes(100 * KIB)
        entries[name] = _fetch(cache, origin.add(f"/{name}.img", data), data,
                               tmp_path / f"out-{name}")
        time.sleep(0.01)
    key = {name: placed.entry.key for name, placed in entries.items()}
    for name in ("b", "c", "d"):
        (tmp_path / f"out-{name}").unlink()  # only a stays in use
    with _held(cache, key["b"]):
        report = cache.clean_up()
    # 400 KiB: a is in use and b locked, so c then d go; a and b stay over the limit.
    assert [(item.key, item.reason) for item in report.removed] == [
        (key["c"], "size"), (key["d"], "size")]
    assert set(report.in_use) == {key["a"], key["b"]}
    assert (report.bytes_before, report.bytes_after) == (400 * KIB, 200 * KIB)
    later = cache.clean_up()
    assert [item.key for item in later.removed] == [key["b"]]
    assert os.path.exists(cache.data_path(key["a"]))


def test_cleanup_frees_the_amount_asked_for(origin: Origin, cache: ImageCache,
                                            tmp_path: pathlib.Path) -> None:
    entries = _three_entries(origin, cache, tmp_path)
    report = cache.clean_up(amount=150 * KIB)
    assert [item.key for item in report.removed] == [entries["a"].entry.key,
                                                     entries["b"].entry.key]


def test_cleanup_removes_crashed_fetches_but_not_running_ones(cache: ImageCache) -> None:
    crashed = "11111111-1111-1111-1111-111111111111"
    running = "22222222-2222-2222-2222-222222222222"
    for key in (crashed, running):
        pathlib.Path(cache.root, f".tmp-{key}-abcdef").write_bytes(b"x" * 10)
    with _held(cache, running):
        report = cache.clean_up()
    assert [(item.key, item.reason) for item in report.removed] == [(crashed, "orphan")]
    assert os.path.exists(os.path.join(cache.root, f".tmp-{running}-abcdef"))


def test_cleanup_does_not_wait_for_another_cleanup(cache: ImageCache) -> None:
    lock = FileLock(os.path.join(cache.root, ".cleanup.lock"))
    assert lock.acquire(1.0)
    try:
        assert cache.clean_up(wait=False).skipped
    finally:
        lock.release()


def test_locked_entry_error_names_the_image_not_its_key(origin: Origin,
                                                        tmp_path: pathlib.Path) -> None:
    cache = ImageCache(_settings(tmp_path / "master", lock_timeout=0.3))
    data = secrets.token_bytes(10 * KIB)
    url = origin.add("/locked.img", data).replace("://", "://reader:hunter2@")
    source = _resolve(url, data)
    held = FileLock(cache.data_path(source.cache_key) + ".lock")
    assert held.acquire(None)
    try:
        with pytest.raises(CacheError) as raised:
            cache.fetch(source, dispatch.fetcher(source, dispatch.SourceAccess()),
                        source.expected_digest(allow_md5=False), str(tmp_path / "node"))
    finally:
        held.release()
    message = str(raised.value)
    assert message.startswith("The image cache entry of http://******@127.0.0.1:")
    assert "/locked.img is still locked by another process after 0 s" in message
    assert source.cache_key not in message and "hunter2" not in message
