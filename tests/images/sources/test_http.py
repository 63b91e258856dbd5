"""http(s) image sources: HEAD (through the node's proxy), errors, redirects, and
fetching into the cache, against a real origin and a real Squid."""

from __future__ import annotations

import hashlib
import pathlib
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from ingot.images.cache import ImageCache
from ingot.images.proxies import ProxyPolicy
from ingot.images.sources import dispatch
from ingot.images.sources.errors import (
    ImageNotAcceptable,
    ImageNotFound,
    ImageSourceUnavailable,
    MissingImageInfo,
)
from ingot.images.sources.http import HttpOptions
from tests.servers.origin import Fault, Origin, running_origin
from tests.servers.squid import Squid


def _sha256(data: bytes) -> dict[str, str]:
    return {"image_os_hash_algo": "sha256",
            "image_os_hash_value": hashlib.sha256(data).hexdigest()}


@pytest.fixture(scope="module")
def squid() -> Iterator[Squid]:
    with Squid() as server:
        yield server


@pytest.fixture
def redirector() -> Iterator[Origin]:
    """A second server, whose files redirect to the origin."""
    with running_origin() as server:
        yield server


def test_head_gives_size_and_validators(origin: Origin) -> None:
    data = secrets.token_bytes(70_000)
    url = origin.add("/disk.img", data)
    source = dispatch.resolve(url, _sha256(data), dispatch.SourceAccess())
    assert source.kind == "http"
    assert (source.size, source.url, source.reference) == (len(data), url, url)
    assert source.freshness.etag == '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
    assert source.digests.os_hash_value == hashlib.sha256(data).hexdigest()
    assert source.image_type == "whole-disk"
    assert origin.bytes_served("/disk.img") == 0  # a HEAD, not a GET


def test_head_goes_through_the_given_proxy(origin: Origin, squid: Squid) -> None:
    data = secrets.token_bytes(1000)
    url = origin.add("/proxied.img", data)
    access = dispatch.SourceAccess(http_options=HttpOptions(ProxyPolicy(http=squid.url)))
    source = dispatch.resolve(url, _sha256(data), access)
    assert source.size == len(data)
    lines = squid.logged("/proxied.img")
    assert lines and all(" HEAD " in line for line in lines)
    assert "ingot-test-squid" in origin.hits_for("/proxied.img")[0].headers.get("via", "")


def test_no_proxy_goes_direct(origin: Origin, squid: Squid) -> None:
    data = secrets.token_bytes(1000)
    url = origin.add("/direct.img", data)
    policy = ProxyPolicy.from_driver_info({"image_http_proxy": squid.url,
                                           "image_no_proxy": "127.0.0.1"})
    dispatch.resolve(url, _sha256(data),
                     dispatch.SourceAccess(http_options=HttpOptions(policy)))
    assert squid.access_lines("/direct.img") == []
    assert "via" not in origin.hits_for("/direct.img")[0].headers


def test_missing_content_length_is_refused(origin: Origin) -> None:
    url = origin.add("/chunked.img", b"x" * 100, Fault(chunked=True))
    with pytest.raises(ImageNotAcceptable, match="no Content-Length"):
        dispatch.resolve(url, _sha256(b"x" * 100), dispatch.SourceAccess())


def test_missing_image_is_not_found(origin: Origin) -> None:
    with pytest.raises(ImageNotFound, match="404"):
        dispatch.resolve(origin.url + "/nothing.img", _sha256(b""), dispatch.SourceAccess())


def test_server_error_is_temporary(origin: Origin) -> None:
    url = origin.add("/busy.img", b"x", Fault(statuses=[503]))
    with pytest.raises(ImageSourceUnavailable, match="503"):
        dispatch.resolve(url, _sha256(b"x"), dispatch.SourceAccess())


def test_unreachable_server_is_temporary() -> None:
    with pytest.raises(ImageSourceUnavailable, match="ConnectError"):
        dispatch.resolve("http://127.0.0.1:9/x.img", _sha256(b"x"), dispatch.SourceAccess())


def test_redirect_target_never_replaces_the_reference(origin: Origin, redirector: Origin,
                                                      cache: ImageCache,
                                                      tmp_path: pathlib.Path) -> None:
    data = secrets.token_bytes(5000)
    origin.add("/moved.img", data)
    reference = redirector.add("/moved.img", b"", Fault(
        redirect=origin.url + "/moved.img?signature=s3cr3t"))
    access = dispatch.SourceAccess()
    source = dispatch.resolve(reference, _sha256(data), access)
    assert (source.reference, source.url) == (reference, reference)
    assert source.redirected_to == origin.url + "/moved.img?signature=s3cr3t"
    placed = cache.fetch(source, dispatch.fetcher(source, access),
                         source.expected_digest(allow_md5=False), str(tmp_path / "node"))
    assert placed.entry.source == reference
    assert (tmp_path / "node").read_bytes() == data


@pytest.mark.parametrize(("instance_info", "field"), [
    ({}, "image_checksum"),
    ({"image_os_hash_algo": "sha256"}, "image_os_hash_value"),
    ({"image_os_hash_value": "ab" * 32}, "image_os_hash_algo"),
    ({"image_checksum": "ab" * 32, "kernel": "http://x/k"}, "ramdisk"),
])
def test_missing_instance_info_fields_are_named(origin: Origin, instance_info: dict[str, Any],
                                                field: str) -> None:
    url = origin.add("/needs-info.img", b"x")
    with pytest.raises(MissingImageInfo, match=field) as missing:
        dispatch.resolve(url, instance_info, dispatch.SourceAccess())
    assert missing.value.field == field
    assert origin.hits_for("/needs-info.img") == []  # refused before any request


def test_fetch_through_the_proxy_into_the_cache(origin: Origin, squid: Squid,
                                                cache: ImageCache,
                                                tmp_path: pathlib.Path) -> None:
    data = secrets.token_bytes(3 << 20)
    url = origin.add("/via-squid.img", data)
    access = dispatch.SourceAccess(http_options=HttpOptions(ProxyPolicy(http=squid.url)))
    source = dispatch.resolve(url, {"image_checksum": hashlib.sha256(data).hexdigest()},
                              access)
    placed = cache.fetch(source, dispatch.fetcher(source, access),
                         source.expected_digest(allow_md5=False), str(tmp_path / "node"))
    assert (placed.hit, placed.fetch_method, placed.method) == (False, "download", "hardlink")
    assert (tmp_path / "node").read_bytes() == data
    assert any(" GET " in line for line in squid.logged("/via-squid.img"))
    assert placed.entry.digests["sha256"] == hashlib.sha256(data).hexdigest()


def test_checksum_file_is_fetched_through_the_nodes_proxy(origin: Origin,
                                                          squid: Squid) -> None:
    data = secrets.token_bytes(2000)
    url = origin.add("/images/sums.img", data)
    sums = origin.add("/images/SHA256SUMS",
                      f"{hashlib.sha256(data).hexdigest()}  sums.img\n".encode())
    access = dispatch.SourceAccess(http_options=HttpOptions(ProxyPolicy(http=squid.url)))
    source = dispatch.resolve(url, {"image_checksum": sums}, access)
    expected = dispatch.expected_digest(source, access)
    assert (expected.algorithm, expected.value) == ("sha256", hashlib.sha256(data).hexdigest())
    assert squid.logged("/images/SHA256SUMS")
