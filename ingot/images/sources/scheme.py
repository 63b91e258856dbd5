"""The protocol every kind of image reference implements, keyed by URL scheme.

A module under images/sources/ handles one kind (glance.py, http.py, file.py, swift.py)
and ends with ``SOURCE``, an object with these four methods; dispatch.SCHEMES maps URL
schemes to them. A new kind of reference is one such module and one line there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from ingot.images.sources.record import Fetched, ImageSource

if TYPE_CHECKING:
    from ingot.images.sources.access import SourceAccess


class ImageScheme(Protocol):
    # ImageSource.kind of what resolve returns (one name even for http and https).
    kind: str

    def check(self, reference: str, instance_info: Mapping[str, Any], *,
              allow_md5: bool) -> None:
        """Everything that can be checked without I/O (the API's validate): the
        reference's form and what instance_info must declare. ImageSourceError if not."""

    def resolve(self, reference: str, instance_info: Mapping[str, Any],
                access: SourceAccess) -> ImageSource:
        """Ask where the image lives (HEAD, Glance, stat): the typed ImageSource."""

    def fetch(self, source: ImageSource, path: str, algorithm: str,
              access: SourceAccess) -> Fetched:
        """Write the image's bytes to the new file ``path`` (the image cache's miss)."""

    def agent_url(self, source: ImageSource, access: SourceAccess) -> str | None:
        """A URL the agent can download the image from itself, or None when only the
        conductor can reach it (then it serves the image from its cache)."""
