"""The agent's ``image_info`` for a node, from its instance_info and driver_info.

Checked twice with the same code: when the node is validated or a deploy is requested
(a 400 naming the field), and when the conductor sends the image to the agent.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from ingot.images.checksum import ChecksumError, require_checksum_fields
from ingot.images.proxies import InvalidProxySetting, ProxyPolicy

DISK_FORMATS = ("raw", "qcow2")


class InvalidImage(ValueError):
    """instance_info cannot describe an image to deploy; the message names the field."""


def proxy_policy(driver_info: Mapping[str, Any]) -> ProxyPolicy:
    try:
        return ProxyPolicy.from_driver_info(driver_info)
    except InvalidProxySetting as exc:
        raise InvalidImage(str(exc)) from None


def _checksum_fields(instance_info: Mapping[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if instance_info.get("image_checksum"):
        fields["checksum"] = instance_info["image_checksum"]
    if instance_info.get("image_os_hash_algo") or instance_info.get("image_os_hash_value"):
        algo = instance_info.get("image_os_hash_algo")
        value = instance_info.get("image_os_hash_value")
        if not isinstance(algo, str) or not algo or not isinstance(value, str) or not value:
            raise InvalidImage("instance_info needs both image_os_hash_algo and "
                               "image_os_hash_value, or neither.")
        fields["os_hash_algo"] = algo
        fields["os_hash_value"] = value
    return fields


def validate(instance_info: Mapping[str, Any], driver_info: Mapping[str, Any],
             *, allow_md5: bool) -> None:
    """Raise InvalidImage unless the node describes a deployable whole-disk image."""
    source = instance_info.get("image_source")
    if not isinstance(source, str) or not source:
        raise InvalidImage("instance_info is missing image_source.")
    url = instance_info.get("image_url") or source
    scheme = urlparse(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidImage(f"instance_info image_source: scheme {scheme or 'none'!r} is not "
                           f"supported for direct download; use an http(s) URL.")
    image_type = instance_info.get("image_type", "whole-disk")
    if image_type != "whole-disk":
        raise InvalidImage(f"instance_info image_type {image_type!r} is not supported; "
                           f"ingot deploys whole-disk images.")
    disk_format = instance_info.get("image_disk_format")
    if disk_format is not None and disk_format not in DISK_FORMATS:
        raise InvalidImage(f"instance_info image_disk_format {disk_format!r} is not one of "
                           f"{', '.join(DISK_FORMATS)}.")
    try:
        require_checksum_fields(_checksum_fields(instance_info), allow_md5=allow_md5)
    except ChecksumError as exc:
        raise InvalidImage(f"instance_info: {exc} (image_checksum, or image_os_hash_algo "
                           f"and image_os_hash_value)") from None
    proxy_policy(driver_info)


def build(node_uuid: str, instance_info: Mapping[str, Any], driver_info: Mapping[str, Any],
          *, stream_raw_images: bool, allow_md5: bool) -> dict[str, Any]:
    """IPA's image_info: what the agent downloads, how it verifies and writes it."""
    validate(instance_info, driver_info, allow_md5=allow_md5)
    source = str(instance_info["image_source"])
    url = str(instance_info.get("image_url") or source)
    info: dict[str, Any] = {
        "id": posixpath.basename(urlparse(source).path) or node_uuid,
        "urls": [url],
        "disk_format": instance_info.get("image_disk_format"),
        "container_format": "bare",
        "stream_raw_images": stream_raw_images,
        "image_type": "whole-disk",
        "node_uuid": node_uuid,
        **_checksum_fields(instance_info),
        **proxy_policy(driver_info).image_info_fields(),
    }
    return info
