"""Where an object lives in Swift: endpoint, account, container, object name.

Covers the forms ingot meets: a storage URL (``https://swift/v1/AUTH_x``), an endpoint
option that may carry the ``/v1/<account>`` suffix, a Glance image id (container chosen
as glance_store does with ``swift_store_multiple_containers_seed``) and a
``swift://container/object`` image reference.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from urllib.parse import unquote, urlsplit

from ingot.swift.errors import InvalidSwiftReference

SWIFT_SCHEME = "swift"


@dataclasses.dataclass(frozen=True, slots=True)
class Account:
    """A Swift account: ``endpoint`` is scheme://host[:port][/prefix], no trailing slash."""

    endpoint: str
    name: str
    api_version: str = "v1"

    @property
    def url(self) -> str:
        """The account's storage URL, as tempauth or a catalog gives it."""
        return f"{self.endpoint}/{self.api_version}/{self.name}"

    def object(self, container: str, name: str) -> ObjectLocation:
        return ObjectLocation(self, container, name)


@dataclasses.dataclass(frozen=True, slots=True)
class ObjectLocation:
    account: Account
    container: str
    name: str

    def __post_init__(self) -> None:
        if not self.container or "/" in self.container:
            raise InvalidSwiftReference(f"invalid Swift container name {self.container!r}")
        if not self.name:
            raise InvalidSwiftReference("empty Swift object name")

    @property
    def path(self) -> str:
        """The object's path, unencoded: what a temp URL signature covers."""
        return f"/{self.account.api_version}/{self.account.name}/{self.container}/{self.name}"


def account_prefix(prefix: str) -> str:
    """Swift reseller prefixes end with '_' (AUTH -> AUTH_); an empty prefix stays empty."""
    return prefix if not prefix or prefix.endswith("_") else prefix + "_"


def split_endpoint(url: str, *, prefix: str = "AUTH", api_version: str = "v1",
                   ) -> tuple[str, str | None]:
    """``(endpoint, account)`` from an endpoint that may end in ``/<version>/<account>``.

    The account is recognised by the reseller prefix; any other URL is returned
    without a trailing slash and with no account.
    """
    pattern = (rf"/{re.escape(api_version)}/({re.escape(account_prefix(prefix))}[^/]+)/?$")
    match = re.search(pattern, url)
    if match is None:
        return url.rstrip("/"), None
    return url[:match.start()].rstrip("/"), match.group(1)


def account_from_storage_url(url: str, *, api_version: str = "v1") -> Account:
    """The account of a storage URL (``https://swift/v1/AUTH_x``), whatever its prefix."""
    match = re.search(rf"/{re.escape(api_version)}/([^/]+)/?$", url)
    if match is None:
        raise InvalidSwiftReference(f"not a Swift storage URL (no /{api_version}/<account> "
                                    f"at the end): {url}")
    return Account(url[:match.start()].rstrip("/"), match.group(1), api_version)


def glance_container(image_id: str, container: str, seed: int) -> str:
    """The container glance_store's Swift driver puts ``image_id`` in.

    With a seed, the first ``seed`` characters of the id (hyphens not counted but kept)
    are appended: seed 8 gives ``glance_757274c4``, seed 10 ``glance_757274c4-28``.
    """
    if not 0 <= seed <= 32:
        raise ValueError("swift_store_multiple_containers_seed must be between 0 and 32")
    if seed == 0:
        return container
    lowered = image_id.lower()
    length = seed + lowered[:seed].count("-")
    return f"{container}_{lowered[:length]}"


def glance_image(account: Account, image_id: str, *, container: str = "glance",
                 seed: int = 0) -> ObjectLocation:
    """Where Glance's Swift store keeps an image: object named by the image id."""
    try:
        uuid.UUID(image_id)
    except (ValueError, AttributeError, TypeError):
        raise InvalidSwiftReference(f"not a Glance image id: {image_id!r}") from None
    return account.object(glance_container(image_id, container, seed), image_id)


def parse_swift_ref(ref: str) -> tuple[str, str]:
    """``(container, object)`` of ``swift://container/object``.

    The object part may contain '/'; percent-escapes are decoded as in any URL.
    """
    parts = urlsplit(ref)
    if parts.scheme != SWIFT_SCHEME:
        raise InvalidSwiftReference(f"not a swift:// reference: {ref!r}")
    if parts.query or parts.fragment:
        raise InvalidSwiftReference(f"a swift:// reference has no query or fragment: {ref!r}")
    container = unquote(parts.netloc)
    name = unquote(parts.path.lstrip("/"))
    if not container or "/" in container or not name:
        raise InvalidSwiftReference(f"expected swift://<container>/<object>, got {ref!r}")
    return container, name
