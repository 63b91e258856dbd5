"""How the agent gets a node's image, decided by the conductor before the agent boots.

``[agent] image_download_source`` (or the node's ``image_download_source`` in
instance_info, then driver_info):

* ``direct``: the agent fetches the image where it lives: an http(s) URL as given, an
  image in Swift (swift://, or a Glance image in Glance's Swift store) by temp URL;
* ``swift``: as direct, for images in Swift (so it differs only in intent);
* ``http``: this conductor fetches the image into its image cache and serves it from
  its HTTP root, so a site's nodes load the WAN once.

file:// images, and Glance images that are not in Swift, always go through the
conductor: the agent can reach neither.
"""

from __future__ import annotations

import os
import pathlib
import posixpath
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from ingot.conf import CONF
from ingot.db.engine import Database
from ingot.db.models import Node
from ingot.drivers.endpoints import http_url
from ingot.drivers.interfaces import InvalidParameter
from ingot.drivers.swift_access import swift_service
from ingot.images import image_info
from ingot.images.cache import ImageCache
from ingot.images.sources import dispatch
from ingot.images.sources.errors import ImageSourceUnavailable
from ingot.images.sources.file import FileAccess
from ingot.images.sources.glance import GlanceImages
from ingot.images.sources.http import HttpOptions
from ingot.images.sources.record import ImageSource, SourceKind, SwiftObjectRef
from ingot.swift.errors import SwiftConfigError

DOWNLOAD_SOURCES = ("direct", "swift", "http")
AGENT_IMAGES = "agent_images"

_lock = threading.Lock()
_shared: dict[str, Any] = {}


def download_source(node: Node) -> str:
    for where, info in (("instance_info", node.instance_info),
                        ("driver_info", node.driver_info)):
        value = info.get("image_download_source")
        if value is not None:
            if value not in DOWNLOAD_SOURCES:
                raise InvalidParameter(f"{where} image_download_source {value!r} is not one "
                                       f"of {', '.join(DOWNLOAD_SOURCES)}.")
            return str(value)
    return str(CONF.agent.image_download_source)


def _once(name: str, build: Any) -> Any:
    with _lock:
        if name not in _shared:
            _shared[name] = build()
        return _shared[name]


def _glance() -> GlanceImages | None:
    def build() -> GlanceImages | None:
        try:
            return GlanceImages.from_conf(CONF)
        except ImageSourceUnavailable:
            return None  # Glance references then fail with a message saying so
    result: GlanceImages | None = _once("glance", build)
    return result


def cache() -> ImageCache:
    cache: ImageCache = _once("cache", lambda: ImageCache.from_conf(CONF))
    return cache


def _swift_temp_url(db: Database) -> Any:
    """A temp URL maker for Swift objects, or None when Swift is not configured here."""
    service = swift_service(db)
    try:
        service.image_account()
    except SwiftConfigError:
        return None

    def temp_url(ref: SwiftObjectRef) -> str:
        return service.object_url(ref).url

    return temp_url


def access(node: Node, db: Database) -> dispatch.SourceAccess:
    return dispatch.SourceAccess(
        http_options=HttpOptions(image_info.proxy_policy(node.driver_info)),
        file_access=_once("file", lambda: FileAccess.from_conf(CONF)),
        glance_images=_glance(),
        swift_temp_url=_swift_temp_url(db),
        allow_md5=CONF.agent.allow_md5_checksum)


def _http_root() -> pathlib.Path:
    return pathlib.Path(os.path.expanduser(CONF.deploy.http_root))


def _served_path(node_uuid: str) -> pathlib.Path:
    return _http_root() / AGENT_IMAGES / node_uuid


def plan(node: Node, db: Database) -> dict[str, Any]:
    """Resolve the node's image and make it reachable for the agent; IPA's image_info.

    Blocking (it may download the image into the cache): run it in a thread.
    """
    mode = download_source(node)
    source_access = access(node, db)
    source = dispatch.resolve(node.instance_info.get("image_source"), node.instance_info,
                              source_access)
    url = _agent_url(node, source, source_access, mode)
    return image_info.build(node.uuid, url, source_id(source), source.disk_format,
                            source.digests.image_info_fields(), node.driver_info,
                            stream_raw_images=CONF.agent.stream_raw_images)


def source_id(source: ImageSource) -> str:
    return source.image_id or posixpath.basename(urlsplit(source.reference).path) \
        or source.reference


def _agent_url(node: Node, source: ImageSource, source_access: dispatch.SourceAccess,
               mode: str) -> str:
    swift_url = source_access.swift_temp_url
    if mode != "http" and source.swift is not None and swift_url is not None:
        return str(swift_url(source.swift))
    if mode != "http" and source.kind is SourceKind.HTTP:
        return str(source.url or source.reference)
    # Through this conductor: file://, Glance outside Swift, and mode http.
    dest = _served_path(node.uuid)
    dest.parent.mkdir(parents=True, exist_ok=True)
    cache().fetch(source, dispatch.fetcher(source, source_access),
                   dispatch.expected_digest(source, source_access), str(dest))
    return f"{http_url()}/{AGENT_IMAGES}/{node.uuid}"


def forget(node_uuid: str) -> None:
    """Remove the node's link to its cached image (the cache keeps the master)."""
    _served_path(node_uuid).unlink(missing_ok=True)


def clean_up_cache() -> Mapping[str, Any]:
    """Housekeeping: expire cache entries by age and size (never one in use)."""
    report = cache().clean_up(wait=False)
    return {"removed": len(report.removed), "freed": report.freed}
