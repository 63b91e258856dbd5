"""Choosing the image source module by the reference's scheme: what the conductor calls.

* ``kind_of`` / ``check_reference``: no I/O, for the API's validate (400s);
* ``resolve``: the typed ``ImageSource`` (asks Glance, HEADs, stats);
* ``fetcher``: the function the image cache calls to put the bytes into a file.

A bare UUID or ``glance://`` is Glance; ``http(s)://``, ``file://`` and ``swift://``
are what they say; anything else is refused. For non-Glance images, instance_info must
carry what Glance would have given (see ``instance_info``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from ingot.images.checksum import ExpectedDigest
from ingot.images.sources import file, glance, http, swift
from ingot.images.sources.errors import ImageReferenceError, ImageSourceUnavailable
from ingot.images.sources.instance_info import (
    declared_image,
    image_type,
    refuse_partition,
)
from ingot.images.sources.record import PARTITION, Fetched, FetchInto, ImageSource, SourceKind

SCHEMES = {"glance": SourceKind.GLANCE, "http": SourceKind.HTTP, "https": SourceKind.HTTP,
           "file": SourceKind.FILE, "swift": SourceKind.SWIFT}
SUPPORTED = "a Glance image UUID, glance://, http://, https://, file:// or swift://"


@dataclasses.dataclass(frozen=True)
class SourceAccess:
    """What resolving and fetching need from the conductor, for one node.

    ``http_options`` carries the node's proxy policy. ``file_access`` None refuses file://
    (the conductor builds it from [conductor] file_url_allowed_paths); ``glance_images``
    None refuses Glance references. ``swift_temp_url`` None means Swift is not
    configured: swift:// images then resolve without a size and cannot be fetched by the
    conductor, and Glance images are fetched through Glance's API. When it is given,
    Glance images that live in Swift are fetched straight from Swift.
    """

    http_options: http.HttpOptions = dataclasses.field(default_factory=http.HttpOptions)
    file_access: file.FileAccess | None = None
    glance_images: glance.GlanceImages | None = None
    swift_temp_url: swift.SwiftTempURL | None = None
    allow_md5: bool = False


def kind_of(reference: Any) -> SourceKind:
    """The kind of source ``reference`` names (no I/O); ImageReferenceError otherwise."""
    if not isinstance(reference, str) or not reference.strip():
        raise ImageReferenceError("image_source is missing or empty.")
    if reference != reference.strip() or any(char.isspace() for char in reference):
        raise ImageReferenceError(f"image_source {reference!r} contains whitespace.")
    scheme = urlsplit(reference).scheme.lower()
    if not scheme:
        if glance.is_uuid(reference):
            return SourceKind.GLANCE
        raise ImageReferenceError(f"image_source {reference!r} has no scheme and is not a "
                                  f"Glance image UUID; use {SUPPORTED}.")
    if scheme not in SCHEMES:
        raise ImageReferenceError(f"Image download protocol {scheme!r} of image_source is "
                                  f"not supported; use {SUPPORTED}.")
    return SCHEMES[scheme]


def check_reference(reference: Any, instance_info: Mapping[str, Any], *,
                    allow_md5: bool) -> SourceKind:
    """Everything that can be checked without I/O: the scheme, the reference's form
    and, for non-Glance images, the instance_info fields. For the API's validate."""
    kind = kind_of(reference)
    if kind is SourceKind.GLANCE:
        glance.image_id(reference)
        if image_type(instance_info) == PARTITION:
            refuse_partition(instance_info, need_kernel=False)
        return kind
    if kind is SourceKind.HTTP:
        http.check_url(reference)
    elif kind is SourceKind.FILE:
        file.local_path(reference)
    else:
        swift.parse_reference(reference)
    declared_image(instance_info, allow_md5=allow_md5)
    return kind


def resolve(reference: Any, instance_info: Mapping[str, Any],
            access: SourceAccess) -> ImageSource:
    """Resolve ``reference`` (a node's image_source) into an ImageSource."""
    kind = check_reference(reference, instance_info, allow_md5=access.allow_md5)
    if kind is SourceKind.GLANCE:
        if access.glance_images is None:
            raise ImageSourceUnavailable(glance.NOT_CONFIGURED)
        return access.glance_images.resolve(reference, instance_info,
                                            allow_md5=access.allow_md5)
    declared = declared_image(instance_info, allow_md5=access.allow_md5)
    if kind is SourceKind.HTTP:
        return http.resolve(reference, declared, access.http_options)
    if kind is SourceKind.FILE:
        if access.file_access is None:
            raise ImageReferenceError("file:// image sources are not enabled on this "
                                      "conductor.")
        return file.resolve(reference, declared, access.file_access)
    return swift.resolve(reference, declared, temp_url=access.swift_temp_url)


def expected_digest(source: ImageSource, access: SourceAccess) -> ExpectedDigest:
    """The digest the image's bytes must have; a checksum file (image_checksum as a URL)
    is fetched through the node's proxies. Raises ChecksumError (a ValueError)."""
    return source.expected_digest(allow_md5=access.allow_md5,
                                  fetch_text=http.checksum_fetcher(access.http_options))


def fetcher(source: ImageSource, access: SourceAccess) -> FetchInto:
    """The function that writes ``source``'s bytes to a new file (the cache's miss)."""
    temp_url = access.swift_temp_url

    def fetch(path: str, algorithm: str) -> Fetched:
        if source.swift is not None and temp_url is not None:
            return swift.download(source, path, algorithm, temp_url=temp_url)
        if source.kind is SourceKind.GLANCE:
            if access.glance_images is None:
                raise ImageSourceUnavailable(glance.NOT_CONFIGURED)
            return access.glance_images.download(source, path, algorithm)
        if source.kind is SourceKind.HTTP:
            return http.download(source, path, algorithm, access.http_options)
        if source.kind is SourceKind.FILE:
            if access.file_access is None:
                raise ImageReferenceError("file:// image sources are not enabled on this "
                                          "conductor.")
            return file.fetch_into(source, path, algorithm, access.file_access)
        raise ImageSourceUnavailable(f"{source.reference} is in Swift, but Swift is not "
                                     f"configured on this conductor ([swift] options).")

    return fetch
