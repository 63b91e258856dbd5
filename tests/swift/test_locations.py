"""Where Glance images and swift:// references live: containers, endpoints, accounts."""

from __future__ import annotations

import pytest

from ingot.swift.errors import InvalidSwiftReference
from ingot.swift.locations import (
    Account,
    account_from_storage_url,
    glance_container,
    glance_image,
    parse_swift_ref,
    split_endpoint,
)

IMAGE_ID = "757274c4-2856-4bd2-bb20-9a4a231e187b"


@pytest.mark.parametrize(("seed", "container"), [
    (0, "glance"),
    (8, "glance_757274c4"),
    (10, "glance_757274c4-28"),
    (32, f"glance_{IMAGE_ID}"),  # 32 hex digits plus the 4 hyphens: the whole id
])
def test_glance_container_naming_follows_glance_store(seed: int, container: str) -> None:
    assert glance_container(IMAGE_ID, "glance", seed) == container


def test_glance_container_uses_the_lower_case_id() -> None:
    assert glance_container(IMAGE_ID.upper(), "images", 8) == "images_757274c4"
    # glance_store's own example
    assert (glance_container("fdae39a1-bac5-4238-aba4-69bcc726e848", "default_container", 10)
            == "default_container_fdae39a1-ba")


def test_glance_image_location_is_container_and_image_id() -> None:
    account = Account("https://swift.example.com", "AUTH_p")
    location = glance_image(account, IMAGE_ID, seed=8)
    assert location.path == f"/v1/AUTH_p/glance_757274c4/{IMAGE_ID}"


@pytest.mark.parametrize("image_id", ["not-a-uuid", "", "../../etc/passwd"])
def test_glance_image_ids_must_be_uuids(image_id: str) -> None:
    with pytest.raises(InvalidSwiftReference, match="not a Glance image id"):
        glance_image(Account("http://s", "AUTH_p"), image_id)


@pytest.mark.parametrize(("seed"), [-1, 33])
def test_seed_out_of_range_is_refused(seed: int) -> None:
    with pytest.raises(ValueError, match="between 0 and 32"):
        glance_container(IMAGE_ID, "glance", seed)


@pytest.mark.parametrize(("url", "endpoint", "account"), [
    ("https://swift:8080/v1/AUTH_abc", "https://swift:8080", "AUTH_abc"),
    ("https://swift:8080/v1/AUTH_abc/", "https://swift:8080", "AUTH_abc"),
    ("https://rgw.example.com/swift/v1/AUTH_abc", "https://rgw.example.com/swift", "AUTH_abc"),
    ("https://swift:8080/", "https://swift:8080", None),
    ("https://swift:8080/v1/OTHER_abc", "https://swift:8080/v1/OTHER_abc", None),
])
def test_split_endpoint_removes_the_account_suffix(url: str, endpoint: str,
                                                   account: str | None) -> None:
    assert split_endpoint(url) == (endpoint, account)


def test_split_endpoint_escapes_the_prefix() -> None:
    # Ironic builds the pattern from the prefix unescaped: "A.X" would match "AzX_...".
    assert split_endpoint("https://s/v1/AzX_abc", prefix="A.X") == ("https://s/v1/AzX_abc",
                                                                     None)
    assert split_endpoint("https://s/v1/A.X_abc", prefix="A.X") == ("https://s", "A.X_abc")
    assert split_endpoint("https://s/v1/AUTH_abc", prefix="AUTH_") == ("https://s", "AUTH_abc")


def test_storage_url_gives_endpoint_and_account() -> None:
    account = account_from_storage_url("http://127.0.0.1:8080/v1/AUTH_test")
    assert account == Account("http://127.0.0.1:8080", "AUTH_test", "v1")
    assert account.url == "http://127.0.0.1:8080/v1/AUTH_test"
    with pytest.raises(InvalidSwiftReference, match="storage URL"):
        account_from_storage_url("http://127.0.0.1:8080/auth/v1.0/")


@pytest.mark.parametrize(("ref", "expected"), [
    ("swift://images/ubuntu.qcow2", ("images", "ubuntu.qcow2")),
    ("swift://images/dir/sub/disk.raw", ("images", "dir/sub/disk.raw")),
    ("swift://images/with%20space", ("images", "with space")),
])
def test_swift_references(ref: str, expected: tuple[str, str]) -> None:
    assert parse_swift_ref(ref) == expected


@pytest.mark.parametrize("ref", ["swift://images", "swift://images/", "swift:///object",
                                 "http://images/object", "swift://c/o?x=1"])
def test_bad_swift_references_are_refused(ref: str) -> None:
    with pytest.raises(InvalidSwiftReference):
        parse_swift_ref(ref)
