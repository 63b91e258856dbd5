"""What resolving and fetching an image may use, for one node: SourceAccess."""

from __future__ import annotations

import dataclasses

from ingot.images.sources.file import FileAccess
from ingot.images.sources.glance import GlanceImages
from ingot.images.sources.http import HttpOptions
from ingot.images.sources.swift import SwiftTempURL


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

    http_options: HttpOptions = dataclasses.field(default_factory=HttpOptions)
    file_access: FileAccess | None = None
    glance_images: GlanceImages | None = None
    swift_temp_url: SwiftTempURL | None = None
    allow_md5: bool = False
