"""swift:// images, and Glance images in Glance's Swift layout, against a real Swift:
resolved by a HEAD of a temp URL, fetched into the cache with a GET of one."""

from __future__ import annotations

import hashlib
import pathlib
import secrets
import time
import uuid

import pytest
from swiftclient.utils import generate_temp_url

from ingot.images.cache import ImageCache
from ingot.images.sources import dispatch
from ingot.images.sources.errors import ImageNotFound
from ingot.images.sources.record import (
    Freshness,
    ImageDigests,
    ImageSource,
    SwiftObjectRef,
)
from ingot.images.sources.swift import SwiftTempURL
from tests.servers.swift import SwiftServer


def _put(swift: SwiftServer, container: str, name: str, data: bytes) -> None:
    connection = swift.connection()
    try:
        connection.put_container(container)
        connection.put_object(container, name, data)
    finally:
        connection.close()


@pytest.fixture
def temp_url(swift: SwiftServer, account_key: str) -> SwiftTempURL:
    """What the conductor adapts ingot.swift into: a signed GET URL per object (the
    session's Swift, with its account's Temp-URL-Key)."""

    def sign(ref: SwiftObjectRef) -> str:
        container = ref.container or "glance"  # Glance's default container, no seed
        path = f"/v1/AUTH_test/{container}/{ref.name}"
        return swift.url + str(generate_temp_url(path, int(time.time()) + 600, account_key,
                                                 "GET", digest="sha256"))

    return sign


def test_swift_object_resolves_and_is_fetched(swift: SwiftServer, temp_url: SwiftTempURL,
                                              cache: ImageCache,
                                              tmp_path: pathlib.Path) -> None:
    data = secrets.token_bytes(400_000)
    _put(swift, "images", "disks/disk.raw", data)
    access = dispatch.SourceAccess(swift_temp_url=temp_url)
    info = {"image_os_hash_algo": "sha512",
            "image_os_hash_value": hashlib.sha512(data).hexdigest()}
    source = dispatch.resolve("swift://images/disks/disk.raw", info, access)
    assert (source.kind, source.size) == ("swift", len(data))
    assert source.freshness.etag == hashlib.md5(data).hexdigest()  # Swift's ETag
    placed = cache.fetch(source, dispatch.fetcher(source, access),
                         source.expected_digest(allow_md5=False), str(tmp_path / "node"))
    assert (placed.hit, placed.fetch_method) == (False, "download")
    assert (tmp_path / "node").read_bytes() == data


def test_missing_swift_object_is_not_found(temp_url: SwiftTempURL) -> None:
    access = dispatch.SourceAccess(swift_temp_url=temp_url)
    with pytest.raises(ImageNotFound, match="404"):
        dispatch.resolve("swift://images/nothing-here", {"image_checksum": "ab" * 32},
                         access)


def test_glance_image_in_swift_is_fetched_from_swift(swift: SwiftServer, temp_url: SwiftTempURL,
                                                     cache: ImageCache,
                                                     tmp_path: pathlib.Path) -> None:
    # As Glance's Swift store lays it out: container "glance", object = image id.
    image_id = str(uuid.uuid4())
    data = secrets.token_bytes(100_000)
    _put(swift, "glance", image_id, data)
    digest = hashlib.sha512(data).hexdigest()
    source = ImageSource(
        reference=image_id, kind="glance", size=len(data),
        digests=ImageDigests("sha512", digest, hashlib.md5(data).hexdigest()),
        freshness=Freshness(digest=f"sha512:{digest}"), immutable=True, image_id=image_id,
        glance_store="swift", swift=SwiftObjectRef(image_id, None, glance_image_id=image_id))
    access = dispatch.SourceAccess(swift_temp_url=temp_url)  # no Glance needed
    placed = cache.fetch(source, dispatch.fetcher(source, access),
                         source.expected_digest(allow_md5=False), str(tmp_path / "node"))
    assert (tmp_path / "node").read_bytes() == data
    assert placed.entry.key == image_id
