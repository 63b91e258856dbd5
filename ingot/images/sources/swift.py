"""``swift://container/object`` images, and Glance images in Glance's Swift store.

ingot.swift signs temporary URLs; this module only needs a function giving one for an
object (``SwiftTempURL``), so it does not depend on how keys, accounts and the shared URL
cache work. The conductor passes, for example::

    def temp_url(ref: SwiftObjectRef) -> str:
        if ref.glance_image_id:
            return swift_service.glance_image_url(ref.glance_image_id).url
        return swift_service.swift_ref_url(ref.reference).url

The conductor HEADs and GETs that URL itself (a GET-signed temp URL allows HEAD), straight
to Swift: the node's proxies are for the node's downloads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from ingot.images.sources.errors import ImageReferenceError, ImageSourceUnavailable
from ingot.images.sources.http import HttpOptions, download_url, head_url
from ingot.images.sources.instance_info import DeclaredImage, declared_image
from ingot.images.sources.record import (
    Fetched,
    Freshness,
    ImageSource,
    SwiftObjectRef,
)

if TYPE_CHECKING:
    from ingot.images.sources.access import SourceAccess

SCHEME = KIND = "swift"

SwiftTempURL = Callable[[SwiftObjectRef], str]


def parse_reference(reference: str) -> SwiftObjectRef:
    """``swift://container/object`` (the object may contain '/'; %-escapes decoded)."""
    parts = urlsplit(reference)
    if parts.scheme.lower() != SCHEME:
        raise ImageReferenceError(f"not a swift:// reference: {reference!r}")
    if parts.query or parts.fragment:
        raise ImageReferenceError(f"a swift:// reference has no query or fragment: "
                                  f"{reference!r}")
    container = unquote(parts.netloc)
    name = unquote(parts.path.lstrip("/"))
    if not container or "/" in container or not name:
        raise ImageReferenceError(f"expected swift://<container>/<object>, got "
                                  f"{reference!r}.")
    return SwiftObjectRef(name=name, container=container)


def resolve(reference: str, declared: DeclaredImage, *, temp_url: SwiftTempURL | None,
            options: HttpOptions | None = None) -> ImageSource:
    """The object's size and validators from a HEAD of its temp URL; without
    ``temp_url`` (Swift not configured) only the reference (size unknown)."""
    ref = parse_reference(reference)
    size, freshness = None, Freshness()
    if temp_url is not None:
        with (options or HttpOptions()).client() as client:
            head = head_url(client, temp_url(ref))
        size, freshness = head.size, head.freshness
    return ImageSource(
        reference=reference, kind=KIND, size=size, digests=declared.digests,
        freshness=freshness, disk_format=declared.disk_format,
        image_type=declared.image_type, swift=ref)


def download(source: ImageSource, path: str, algorithm: str, *, temp_url: SwiftTempURL,
             options: HttpOptions | None = None) -> Fetched:
    """GET the object (a swift:// image, or a Glance image in Swift) into ``path``."""
    assert source.swift is not None
    with (options or HttpOptions()).client() as client:
        return download_url(client, temp_url(source.swift), path, algorithm)


class SwiftScheme:
    """swift://container/object in the images' account: a temp URL for the agent, and
    for the conductor's own HEAD and GET."""

    kind = KIND

    def check(self, reference: str, instance_info: Mapping[str, Any], *,
              allow_md5: bool) -> None:
        parse_reference(reference)
        declared_image(instance_info, allow_md5=allow_md5)

    def resolve(self, reference: str, instance_info: Mapping[str, Any],
                access: SourceAccess) -> ImageSource:
        return resolve(reference, declared_image(instance_info, allow_md5=access.allow_md5),
                       temp_url=access.swift_temp_url)

    def fetch(self, source: ImageSource, path: str, algorithm: str,
              access: SourceAccess) -> Fetched:
        if access.swift_temp_url is None:
            raise ImageSourceUnavailable(f"{source.reference} is in Swift, but Swift is not "
                                         f"configured on this conductor ([swift] options).")
        return download(source, path, algorithm, temp_url=access.swift_temp_url)

    def agent_url(self, source: ImageSource, access: SourceAccess) -> str | None:
        if source.swift is None or access.swift_temp_url is None:
            return None  # Swift not configured here: the conductor cannot sign one
        return access.swift_temp_url(source.swift)


SOURCE = SwiftScheme()
