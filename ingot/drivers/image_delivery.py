"""How the agent gets a node's image, decided by the conductor before the agent boots.

``[agent] image_download_source`` (or the node's ``image_download_source`` in
instance_info, then driver_info):

* ``direct``: the agent fetches the image where it lives: an http(s) URL as given, an
  image in Swift (swift://, or a Glance image in Glance's Swift store) by temp URL;
* ``swift``: as direct, for images in Swift (so it differs only in intent);
* ``http``: this conductor fetches the image into its image cache and serves it from
  its HTTP root, so a site's nodes load the WAN once;
* ``local``: Ironic's name for the same (in Ironic, ``http`` passes http(s) URLs
  through and only ``local`` caches them on the conductor; ingot's ``direct`` is the
  former).

file:// images, and Glance images that are not in Swift, always go through the
conductor: the agent can reach neither.
"""

from __future__ import annotations

import logging
import pathlib
import posixpath
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from ingot.db.models import Node
from ingot.drivers.interfaces import InvalidParameter
from ingot.drivers.services import Services
from ingot.drivers.settings import DOWNLOAD_SOURCES
from ingot.images import image_info
from ingot.images.sources import dispatch
from ingot.images.sources.http import HttpOptions
from ingot.images.sources.record import PARTITION, ImageSource, SwiftObjectRef
from ingot.images.sources.swift import SwiftTempURL
from ingot.swift.errors import SwiftConfigError

LOG = logging.getLogger(__name__)

# Modes in which this conductor serves the image itself (local is Ironic's name).
_SERVED = ("http", "local")

AGENT_IMAGES = "agent_images"


def download_source(node: Node, default: str) -> str:
    """The node's image_download_source (instance_info, then driver_info), else default."""
    for where, info in (("instance_info", node.instance_info),
                        ("driver_info", node.driver_info)):
        value = info.get("image_download_source")
        if value is not None:
            if value not in DOWNLOAD_SOURCES:
                raise InvalidParameter(f"{where} image_download_source {value!r} is not one "
                                       f"of {', '.join(DOWNLOAD_SOURCES)}.")
            return str(value)
    return default


def _swift_temp_url(services: Services) -> SwiftTempURL | None:
    """A temp URL maker for Swift objects, or None when Swift is not configured here."""
    service = services.swift
    try:
        service.image_account()
    except SwiftConfigError:
        return None

    def temp_url(ref: SwiftObjectRef) -> str:
        return service.object_url(ref).url

    return temp_url


def access(node: Node, services: Services) -> dispatch.SourceAccess:
    """What resolving and fetching this node's images may use."""
    return dispatch.SourceAccess(
        # The node's proxies are the agent's (image_info carries them); the conductor's
        # own checks and downloads use its environment's.
        http_options=HttpOptions(services.settings.conductor_proxies),
        file_access=services.file_access,
        glance_images=services.glance,
        swift_temp_url=_swift_temp_url(services),
        allow_md5=services.settings.agent.allow_md5)


def plan(node: Node, services: Services, boot_mode: str = "bios") -> dict[str, Any]:
    """Resolve the node's image and make it reachable for the agent; IPA's image_info.

    Blocking (it may download the image into the cache): run it in a thread.
    """
    agent = services.settings.agent
    mode = download_source(node, agent.image_download_source)
    source_access = access(node, services)
    source = dispatch.resolve(node.instance_info.get("image_source"), node.instance_info,
                              source_access)
    partition = None
    if source.image_type == PARTITION:  # instance_info or Glance say so
        partition = image_info.partition_fields(image_info.partition_spec(
            node.instance_info, node.properties, boot_mode))
    url = _agent_url(node, source, source_access, mode, services)
    return image_info.build(node.uuid, url, source_id(source), source.disk_format,
                            source.digests.image_info_fields(), node.driver_info,
                            stream_raw_images=agent.stream_raw_images, partition=partition)


def source_id(source: ImageSource) -> str:
    return source.image_id or posixpath.basename(urlsplit(source.reference).path) \
        or source.reference


def _agent_url(node: Node, source: ImageSource, source_access: dispatch.SourceAccess,
               mode: str, services: Services) -> str:
    if mode not in _SERVED:
        url = dispatch.agent_url(source, source_access)
        if url is not None:
            if source.swift is not None:
                why = source.swift.why or "the image is a swift:// object"
                LOG.info("Node %s: the agent downloads image %s by Swift temp URL (%s)",
                         node.uuid, source_id(source), why)
            else:
                LOG.info("Node %s: the agent downloads image %s from its URL "
                         "(image_download_source %s)", node.uuid, source_id(source), mode)
            return url
    # Through this conductor: file://, Glance outside Swift, and mode http.
    LOG.info("Node %s: the conductor serves image %s from its cache (%s)", node.uuid,
             source_id(source),
             _why_cached(source, mode, source_access.swift_temp_url is not None))
    dest = _served_path(node.uuid, services)
    dest.parent.mkdir(parents=True, exist_ok=True)
    services.image_cache.fetch(source, dispatch.fetcher(source, source_access),
                               dispatch.expected_digest(source, source_access), str(dest))
    return f"{services.settings.endpoints.http_url}/{AGENT_IMAGES}/{node.uuid}"


def _why_cached(source: ImageSource, mode: str, swift_configured: bool) -> str:
    if mode in _SERVED:
        return f"image_download_source {mode}"
    if source.kind == "file":
        return "file:// images are always served by the conductor"
    if source.swift is not None and not swift_configured:
        return "the image is in Swift, but no Swift account is configured for temp URLs"
    if source.glance_store:
        return f"Glance stores it in its {source.glance_store!r} store, not in Swift"
    return ("Glance shows no location (show_image_direct_url is off) and neither [glance] "
            "swift_account nor swift_container is set")


def _served_path(node_uuid: str, services: Services) -> pathlib.Path:
    return services.settings.endpoints.http_root / AGENT_IMAGES / node_uuid


def forget(node_uuid: str, services: Services) -> None:
    """Remove the node's link to its cached image (the cache keeps the master)."""
    _served_path(node_uuid, services).unlink(missing_ok=True)


def clean_up_cache(services: Services) -> Mapping[str, Any]:
    """Housekeeping: expire cache entries by age and size (never one in use)."""
    report = services.image_cache.clean_up(wait=False)
    return {"removed": len(report.removed), "freed": report.freed}
