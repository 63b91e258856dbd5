"""IPA's ``image_info`` for a node, and the checks on what describes its image.

The checks run twice with the same code: when the node is validated or a deploy is
requested (a 400 naming the field), and when the conductor prepares the deploy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ingot.images.proxies import InvalidProxySetting, ProxyPolicy
from ingot.images.sources import dispatch
from ingot.images.sources.errors import (
    ImageNotAcceptable,
    ImageReferenceError,
)

DISK_FORMATS = ("raw", "qcow2")


class InvalidImage(ValueError):
    """instance_info cannot describe an image to deploy; the message names the field."""


def proxy_policy(driver_info: Mapping[str, Any]) -> ProxyPolicy:
    try:
        return ProxyPolicy.from_driver_info(driver_info)
    except InvalidProxySetting as exc:
        raise InvalidImage(str(exc)) from None


def validate(instance_info: Mapping[str, Any], driver_info: Mapping[str, Any],
             *, allow_md5: bool) -> None:
    """Raise InvalidImage unless the node describes a deployable image (no I/O)."""
    try:
        dispatch.check_reference(instance_info.get("image_source"), instance_info,
                                 allow_md5=allow_md5)
    except (ImageReferenceError, ImageNotAcceptable) as exc:  # e.g. a partition image
        # Most messages name their instance_info field already.
        text = str(exc)
        if text.startswith("image_source"):
            text = f"instance_info {text}"
        elif not text.startswith("instance_info"):
            text = f"instance_info: {text}"
        raise InvalidImage(text) from None
    disk_format = instance_info.get("image_disk_format")
    if disk_format is not None and disk_format not in DISK_FORMATS:
        raise InvalidImage(f"instance_info image_disk_format {disk_format!r} is not one of "
                           f"{', '.join(DISK_FORMATS)}.")
    proxy_policy(driver_info)


def build(node_uuid: str, url: str, image_id: str, disk_format: str | None,
          digests: Mapping[str, str], driver_info: Mapping[str, Any], *,
          stream_raw_images: bool) -> dict[str, Any]:
    """IPA's image_info: where the agent downloads, how it verifies and writes it."""
    return {
        "id": image_id,
        "urls": [url],
        "disk_format": disk_format,
        "container_format": "bare",
        "stream_raw_images": stream_raw_images,
        "image_type": "whole-disk",
        "node_uuid": node_uuid,
        **digests,
        **proxy_policy(driver_info).image_info_fields(),
    }
