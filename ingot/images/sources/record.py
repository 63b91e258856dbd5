"""The typed records image sources produce: what the conductor knows about an image and
how its bytes can be fetched."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from ingot.images.checksum import ExpectedDigest, FetchText, expected_digest

WHOLE_DISK = "whole-disk"
PARTITION = "partition"


@dataclasses.dataclass(frozen=True)
class ImageDigests:
    """Digests as IPA's image_info names them. ``checksum`` is Glance's MD5, or
    instance_info's image_checksum (a digest, ``algo:digest`` or a checksum file URL)."""

    os_hash_algo: str | None = None
    os_hash_value: str | None = None
    checksum: str | None = None

    def image_info_fields(self) -> dict[str, str]:
        fields = {"checksum": self.checksum, "os_hash_algo": self.os_hash_algo,
                  "os_hash_value": self.os_hash_value}
        return {key: value for key, value in fields.items() if value}

    def expected(self, image_url: str = "", *, allow_md5: bool,
                 fetch_text: FetchText | None = None) -> ExpectedDigest:
        """The digest the bytes must have (ChecksumError if none is usable)."""
        info: dict[str, Any] = {"urls": [image_url], **self.image_info_fields()}
        return expected_digest(info, allow_md5=allow_md5, fetch_text=fetch_text)


@dataclasses.dataclass(frozen=True)
class Freshness:
    """What tells whether a cached copy still matches the source.

    ``file_identity`` is ``dev:ino:size:mtime_ns`` of a file:// source (not ctime: hard
    links, the cache's own included, change it).
    """

    etag: str | None = None
    last_modified: str | None = None
    updated_at: str | None = None  # Glance
    digest: str | None = None  # "algo:hex" the source states for its bytes (Glance)
    file_identity: str | None = None

    @property
    def token(self) -> str | None:
        """One string for logs and comparisons; None when the source gives no validator."""
        parts = [f"{name}={value}" for name, value in dataclasses.asdict(self).items()
                 if value]
        return ";".join(parts) or None

    def as_dict(self) -> dict[str, str | None]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Freshness:
        names = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items()
                      if key in names and (value is None or isinstance(value, str))})


@dataclasses.dataclass(frozen=True)
class SwiftObjectRef:
    """An object in Swift. ``container`` is None for a Glance image whose container
    follows from the [glance] options (glance_store's naming); ``glance_image_id`` is set
    for Glance images, whose object name is the image id."""

    name: str
    container: str | None = None
    glance_image_id: str | None = None
    why: str = ""  # how a Glance image was found to be in Swift, for the log

    @property
    def reference(self) -> str | None:
        """The ``swift://container/object`` form, when the container is known."""
        return f"swift://{self.container}/{self.name}" if self.container else None


@dataclasses.dataclass(frozen=True)
class ImageSource:
    """A resolved image reference.

    ``reference`` is exactly what the operator gave (a redirect target never replaces
    it). How to fetch: ``url`` for http(s) and Glance (the API's data URL), ``path`` (the
    real path) for file://, ``swift`` when the bytes are in Swift (a swift:// reference,
    or a Glance image in Glance's Swift store).
    """

    reference: str
    kind: str  # the scheme module's KIND: "glance", "http" (and https), "file", "swift"
    size: int | None
    digests: ImageDigests
    freshness: Freshness
    disk_format: str | None = None
    image_type: str = WHOLE_DISK
    immutable: bool = False  # Glance image data never changes once active
    image_id: str | None = None  # Glance
    glance_store: str | None = None  # "file", "swift", "rbd", "http"...: from its locations
    url: str | None = None
    redirected_to: str | None = None  # where a HEAD's redirects ended, for information
    path: str | None = None
    swift: SwiftObjectRef | None = None

    @property
    def cache_key(self) -> str:
        """The image cache's name for it: the Glance id, else a UUID of the location."""
        if self.image_id:  # only Glance images have one
            return self.image_id
        where = f"file://{self.path}" if self.path else self.reference  # file:// only
        return str(uuid.uuid5(uuid.NAMESPACE_URL, where))

    def expected_digest(self, *, allow_md5: bool,
                        fetch_text: FetchText | None = None) -> ExpectedDigest:
        return self.digests.expected(self.url or self.reference, allow_md5=allow_md5,
                                     fetch_text=fetch_text)


@dataclasses.dataclass(frozen=True)
class Fetched:
    """What a fetcher did to put an image into a file: ``method`` is ``download``,
    ``hardlink`` or ``copy``; ``digests`` maps algorithm to hex digest for those it
    computed while writing (the cache hashes the file itself otherwise)."""

    method: str
    size: int
    digests: Mapping[str, str] = dataclasses.field(default_factory=dict)
    freshness: Freshness | None = None  # when fetching learnt a newer validator


# Writes the image to ``path`` (which does not exist yet), hashing it with ``algorithm``
# if it can do so while writing. The image cache calls it on a miss.
FetchInto = Callable[[str, str], Fetched]
