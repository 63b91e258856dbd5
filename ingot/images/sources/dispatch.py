"""Choosing the image source module by the reference's scheme: what the conductor calls.

* ``kind_of`` / ``check_reference``: no I/O, for the API's validate (400s);
* ``resolve``: the typed ``ImageSource`` (asks Glance, HEADs, stats);
* ``fetcher``: the function the image cache calls to put the bytes into a file;
* ``agent_url``: where the agent can fetch a resolved image itself, if anywhere.

A bare UUID or ``glance://`` is Glance; ``http(s)://``, ``file://`` and ``swift://``
are what they say; anything else is refused. For non-Glance images, instance_info must
carry what Glance would have given (see ``instance_info``). Each kind is one module
implementing scheme.ImageScheme; a new one is that module and a line in SCHEMES.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from ingot.images.checksum import ExpectedDigest
from ingot.images.sources import file, glance, http, swift
from ingot.images.sources.access import SourceAccess as SourceAccess
from ingot.images.sources.errors import ImageReferenceError
from ingot.images.sources.record import Fetched, FetchInto, ImageSource
from ingot.images.sources.scheme import ImageScheme

SCHEMES: dict[str, ImageScheme] = {
    "glance": glance.SOURCE,
    "http": http.SOURCE,
    "https": http.SOURCE,
    "file": file.SOURCE,
    "swift": swift.SOURCE,
}
SUPPORTED = "a Glance image UUID, glance://, http://, https://, file:// or swift://"


def scheme_of(reference: Any) -> ImageScheme:
    """The module handling ``reference`` (no I/O); ImageReferenceError otherwise."""
    if not isinstance(reference, str) or not reference.strip():
        raise ImageReferenceError("image_source is missing or empty.")
    if reference != reference.strip() or any(char.isspace() for char in reference):
        raise ImageReferenceError(f"image_source {reference!r} contains whitespace.")
    scheme = urlsplit(reference).scheme.lower()
    if not scheme:
        if glance.is_uuid(reference):
            return glance.SOURCE
        raise ImageReferenceError(f"image_source {reference!r} has no scheme and is not a "
                                  f"Glance image UUID; use {SUPPORTED}.")
    if scheme not in SCHEMES:
        raise ImageReferenceError(f"Image download protocol {scheme!r} of image_source is "
                                  f"not supported; use {SUPPORTED}.")
    return SCHEMES[scheme]


def kind_of(reference: Any) -> str:
    """The kind of source ``reference`` names: ImageSource.kind of what it resolves to."""
    return scheme_of(reference).kind


def check_reference(reference: Any, instance_info: Mapping[str, Any], *,
                    allow_md5: bool) -> str:
    """Everything that can be checked without I/O: the scheme, the reference's form
    and, for non-Glance images, the instance_info fields. For the API's validate."""
    scheme = scheme_of(reference)
    scheme.check(reference, instance_info, allow_md5=allow_md5)
    return scheme.kind


def resolve(reference: Any, instance_info: Mapping[str, Any],
            access: SourceAccess) -> ImageSource:
    """Resolve ``reference`` (a node's image_source) into an ImageSource.

    Resolving parses and checks what it uses once; the full check (check_reference) is
    the validate step's, which the deploy runs before."""
    return scheme_of(reference).resolve(reference, instance_info, access)


def expected_digest(source: ImageSource, access: SourceAccess) -> ExpectedDigest:
    """The digest the image's bytes must have; a checksum file (image_checksum as a URL)
    is fetched with access's HTTP options. Raises ChecksumError (a ValueError)."""
    return source.expected_digest(allow_md5=access.allow_md5,
                                  fetch_text=http.checksum_fetcher(access.http_options))


def fetcher(source: ImageSource, access: SourceAccess) -> FetchInto:
    """The function that writes ``source``'s bytes to a new file (the cache's miss)."""
    scheme = _by_kind(source.kind)

    def fetch(path: str, algorithm: str) -> Fetched:
        return scheme.fetch(source, path, algorithm, access)

    return fetch


def agent_url(source: ImageSource, access: SourceAccess) -> str | None:
    """A URL the agent can download ``source`` from itself, or None (conductor only)."""
    return _by_kind(source.kind).agent_url(source, access)


def _by_kind(kind: str) -> ImageScheme:
    return next(scheme for scheme in SCHEMES.values() if scheme.kind == kind)
