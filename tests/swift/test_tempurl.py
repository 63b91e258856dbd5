"""Temp URLs signed by ingot against the real Swift: accepted as signed, refused otherwise."""

from __future__ import annotations

import secrets
import time
import uuid

import httpx
import pytest

from ingot.swift.locations import Account, ObjectLocation
from ingot.swift.tempurl import TempURL, sign
from tests.servers.swift import SwiftServer

CONTAINER = "tempurl-tests"


@pytest.fixture(scope="module")
def stored(swift: SwiftServer) -> tuple[ObjectLocation, bytes]:
    content = secrets.token_bytes(100_000)
    name = f"object-{uuid.uuid4()}"
    connection = swift.connection()
    try:
        connection.put_container(CONTAINER)
        connection.put_object(CONTAINER, name, content)
        connection.put_object(CONTAINER, name + "-other", b"other")
    finally:
        connection.close()
    account = Account(swift.url, "AUTH_test")
    return account.object(CONTAINER, name), content


def _in(seconds: int) -> int:
    return int(time.time()) + seconds


def test_get_head_and_range_are_accepted(stored: tuple[ObjectLocation, bytes],
                                         account_key: str) -> None:
    location, content = stored
    url = sign(location, key=account_key, expires_at=_in(300)).url
    assert httpx.get(url).content == content
    head = httpx.head(url)
    assert head.status_code == 200
    assert int(head.headers["content-length"]) == len(content)
    partial = httpx.get(url, headers={"Range": "bytes=10-19"})
    assert partial.status_code == 206
    assert partial.content == content[10:20]


def test_sha256_is_the_default_digest(stored: tuple[ObjectLocation, bytes],
                                      account_key: str) -> None:
    location, content = stored
    url = sign(location, key=account_key, expires_at=_in(300)).url
    signature = httpx.URL(url).params["temp_url_sig"]
    assert len(signature) == 64  # hex HMAC-SHA256
    assert httpx.get(url).content == content


@pytest.mark.parametrize("digest", ["sha512", "sha1"])
def test_other_digests_are_accepted(stored: tuple[ObjectLocation, bytes], account_key: str,
                                    digest: str) -> None:
    location, content = stored
    url = sign(location, key=account_key, expires_at=_in(300), digest=digest).url
    assert httpx.get(url).content == content


def test_an_unknown_digest_is_refused_before_signing(stored: tuple[ObjectLocation, bytes],
                                                     account_key: str) -> None:
    with pytest.raises(ValueError, match="sha256"):
        sign(stored[0], key=account_key, expires_at=_in(300), digest="md5")


def test_tampered_signature_is_refused(stored: tuple[ObjectLocation, bytes],
                                       account_key: str) -> None:
    url = sign(stored[0], key=account_key, expires_at=_in(300)).url
    signature = httpx.URL(url).params["temp_url_sig"]
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    assert httpx.get(url.replace(signature, flipped)).status_code == 401


def test_signature_for_another_object_is_refused(stored: tuple[ObjectLocation, bytes],
                                                 account_key: str) -> None:
    location, _ = stored
    url = sign(location, key=account_key, expires_at=_in(300)).url
    other = url.replace(f"/{location.name}?", f"/{location.name}-other?")
    assert httpx.get(other).status_code == 401


def test_signature_for_another_method_is_refused(stored: tuple[ObjectLocation, bytes],
                                                 account_key: str) -> None:
    get_url = sign(stored[0], key=account_key, expires_at=_in(300)).url
    assert httpx.put(get_url, content=b"overwrite").status_code == 401
    assert httpx.delete(get_url).status_code == 401
    head_url = sign(stored[0], key=account_key, expires_at=_in(300), method="HEAD").url
    assert httpx.head(head_url).status_code == 200
    assert httpx.get(head_url).status_code == 401


def test_expired_and_wrong_key_are_refused(stored: tuple[ObjectLocation, bytes],
                                           account_key: str) -> None:
    expired = sign(stored[0], key=account_key, expires_at=_in(-1))
    assert httpx.get(expired.url).status_code == 401
    wrong_key = sign(stored[0], key=account_key + "x", expires_at=_in(300))
    assert httpx.get(wrong_key.url).status_code == 401


def test_url_expiring_soon_stops_working_when_it_expires(
        stored: tuple[ObjectLocation, bytes], account_key: str) -> None:
    soon = sign(stored[0], key=account_key, expires_at=_in(2))
    assert httpx.head(soon.url).status_code == 200
    time.sleep(max(0.0, soon.expires_at - time.time()) + 1.1)
    assert httpx.head(soon.url).status_code == 401


def test_object_names_are_encoded_in_the_url_and_signed_decoded(
        swift: SwiftServer, account_key: str) -> None:
    name = f"dir/with space+plus-{uuid.uuid4()}"
    connection = swift.connection()
    try:
        connection.put_object(CONTAINER, name, b"odd name")
    finally:
        connection.close()
    location = Account(swift.url, "AUTH_test").object(CONTAINER, name)
    url = sign(location, key=account_key, expires_at=_in(300)).url
    assert "with%20space%2Bplus" in url
    assert httpx.get(url).content == b"odd name"


def test_repr_and_str_hide_the_signature(stored: tuple[ObjectLocation, bytes],
                                         account_key: str) -> None:
    temp_url = sign(stored[0], key=account_key, expires_at=_in(300))
    signature = httpx.URL(temp_url.url).params["temp_url_sig"]
    for shown in (repr(temp_url), str(temp_url), temp_url.redacted, f"{temp_url}"):
        assert signature not in shown
        assert "temp_url_sig=******" in shown
    assert isinstance(temp_url, TempURL)
