"""IPA's ``image_info`` for a node, and the checks on what describes its image.

The checks run twice with the same code: when the node is validated or a deploy is
requested (a 400 naming the field), and when the conductor prepares the deploy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ingot.images.partition_layout import EPHEMERAL_FORMATS, LayoutError, PartitionSpec
from ingot.images.proxies import InvalidProxySetting, ProxyPolicy
from ingot.images.sources import dispatch
from ingot.images.sources.errors import (
    ImageNotAcceptable,
    ImageReferenceError,
)
from ingot.images.sources.instance_info import image_type
from ingot.images.sources.record import PARTITION, WHOLE_DISK

DISK_FORMATS = ("raw", "qcow2")


class InvalidImage(ValueError):
    """instance_info cannot describe an image to deploy; the message names the field."""


def proxy_policy(driver_info: Mapping[str, Any]) -> ProxyPolicy:
    try:
        return ProxyPolicy.from_driver_info(driver_info)
    except InvalidProxySetting as exc:
        raise InvalidImage(str(exc)) from None


_TRUE = ("true", "1", "yes", "on", "y", "t")
_FALSE = ("false", "0", "no", "off", "n", "f")


def _capability(capabilities: Any, name: str) -> str | None:
    """One capability from a dict, a JSON object or Ironic's ``key:value,...`` text."""
    if isinstance(capabilities, str):
        text = capabilities.strip()
        if text.startswith("{"):
            try:
                capabilities = json.loads(text)
            except ValueError:
                raise InvalidImage("instance_info capabilities is not valid JSON.") from None
        else:
            capabilities = dict(item.partition(":")[::2] for item in text.split(",") if item)
    if not isinstance(capabilities, Mapping):
        return None
    value = capabilities.get(name)
    return None if value in (None, "") else str(value).strip()


def _integer(instance_info: Mapping[str, Any], field: str) -> int:
    value = instance_info.get(field)
    if value in (None, ""):
        return 0
    if isinstance(value, bool) or not str(value).strip().isdigit():
        raise InvalidImage(f"instance_info {field} must be a non-negative integer, got "
                           f"{value!r}.")
    return int(str(value).strip())


def partition_spec(instance_info: Mapping[str, Any], properties: Mapping[str, Any],
                   boot_mode: str) -> PartitionSpec:
    """The partition layout instance_info asks for (Ironic's parse_instance_info);
    InvalidImage names the field when it cannot be laid out."""
    preserve = instance_info.get("preserve_ephemeral", False)
    if isinstance(preserve, str) and preserve.strip().lower() in _TRUE + _FALSE:
        preserve = preserve.strip().lower() in _TRUE
    if not isinstance(preserve, bool):
        raise InvalidImage(f"instance_info preserve_ephemeral must be a boolean, got "
                           f"{preserve!r}.")
    ephemeral_format = instance_info.get("ephemeral_format") or "ext4"
    if ephemeral_format not in EPHEMERAL_FORMATS:
        raise InvalidImage(f"instance_info ephemeral_format {ephemeral_format!r} is not "
                           f"one of {', '.join(EPHEMERAL_FORMATS)}.")
    label = _capability(instance_info.get("capabilities"), "disk_label") or \
        _capability(properties.get("capabilities"), "disk_label")
    if label is not None and label not in ("msdos", "gpt"):
        raise InvalidImage(f"instance_info capabilities disk_label {label!r} is not msdos "
                           f"or gpt.")
    ephemeral_mb = _integer(instance_info, "ephemeral_gb") * 1024
    if preserve and not ephemeral_mb:
        raise InvalidImage("instance_info preserve_ephemeral needs an ephemeral partition "
                           "(instance_info ephemeral_gb).")
    spec = PartitionSpec(
        root_mb=_integer(instance_info, "root_gb") * 1024,
        swap_mb=_integer(instance_info, "swap_mb"), ephemeral_mb=ephemeral_mb,
        ephemeral_format=ephemeral_format, preserve_ephemeral=preserve,
        boot_mode="uefi" if boot_mode == "uefi" else "bios",
        disk_label=label or ("gpt" if boot_mode == "uefi" else "msdos"))
    try:
        spec.plan()
    except LayoutError as exc:
        raise InvalidImage(f"instance_info capabilities {exc}") from None
    return spec


def partition_fields(spec: PartitionSpec) -> dict[str, Any]:
    """The partition fields of IPA's image_info, as Ironic's agent deploy sends them
    (disk_label always, chosen here by the same rule the agent follows)."""
    return {
        "root_mb": spec.root_mb, "swap_mb": spec.swap_mb,
        "ephemeral_mb": spec.ephemeral_mb, "ephemeral_format": spec.ephemeral_format,
        "preserve_ephemeral": spec.preserve_ephemeral, "deploy_boot_mode": spec.boot_mode,
        "boot_option": "local", "disk_label": spec.disk_label}


def validate(instance_info: Mapping[str, Any], driver_info: Mapping[str, Any],
             *, allow_md5: bool, properties: Mapping[str, Any] | None = None,
             boot_mode: str = "bios") -> None:
    """Raise InvalidImage unless the node describes a deployable image (no I/O)."""
    try:
        dispatch.check_reference(instance_info.get("image_source"), instance_info,
                                 allow_md5=allow_md5)
    except (ImageReferenceError, ImageNotAcceptable) as exc:
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
    if is_partition(instance_info):
        partition_spec(instance_info, properties or {}, boot_mode)


def is_partition(instance_info: Mapping[str, Any]) -> bool:
    """What instance_info alone says (a Glance image may say partition too)."""
    try:
        return image_type(instance_info) == PARTITION
    except ImageReferenceError:
        return False


def build(node_uuid: str, url: str, image_id: str, disk_format: str | None,
          digests: Mapping[str, str], driver_info: Mapping[str, Any], *,
          stream_raw_images: bool, partition: Mapping[str, Any] | None = None
          ) -> dict[str, Any]:
    """IPA's image_info: where the agent downloads, how it verifies and writes it;
    ``partition`` holds partition_fields for a partition image."""
    return {
        "id": image_id,
        "urls": [url],
        "disk_format": disk_format,
        "container_format": "bare",
        "stream_raw_images": stream_raw_images,
        "image_type": PARTITION if partition is not None else WHOLE_DISK,
        "node_uuid": node_uuid,
        **(partition or {}),
        **digests,
        **proxy_policy(driver_info).image_info_fields(),
    }
