"""What instance_info must say about an image Glance does not describe.

Glance gives a digest, a disk format and whether the image is whole-disk; for http(s),
file:// and swift:// images the node's instance_info must carry the same (as Ironic's
non-Glance image spec requires): ``image_checksum``, or ``image_os_hash_algo`` and
``image_os_hash_value``; ``image_type`` (``whole-disk`` unless ``kernel`` or
``ramdisk`` is set); and for partition images ``kernel``, ``ramdisk`` and ``root_gb``.
file:// images need a digest too: unlike Ironic, ingot does not compute one from the
file itself, which would only prove that the file equals itself.

A partition image's other fields (swap, ephemeral, disk label) are checked with its
layout in images/image_info.py.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from typing import Any

from ingot.images.checksum import ChecksumError, is_url, require_checksum_fields
from ingot.images.sources.errors import ImageReferenceError, MissingImageInfo
from ingot.images.sources.record import PARTITION, WHOLE_DISK, ImageDigests

IMAGE_TYPES = (WHOLE_DISK, PARTITION)
PARTITION_FIELDS = ("kernel", "ramdisk", "root_gb")


@dataclasses.dataclass(frozen=True)
class DeclaredImage:
    """What instance_info says about an image."""

    image_type: str
    digests: ImageDigests
    disk_format: str | None


def _text(instance_info: Mapping[str, Any], field: str) -> str | None:
    value = instance_info.get(field)
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ImageReferenceError(f"instance_info {field} must be a string.")
    return value


def image_type(instance_info: Mapping[str, Any], *, glance_partition: bool = False) -> str:
    """The declared image_type, else inferred: partition if kernel or ramdisk is set
    (or Glance says so)."""
    declared = instance_info.get("image_type")
    if declared not in (None, ""):
        if declared not in IMAGE_TYPES:
            raise ImageReferenceError(f"instance_info image_type {declared!r} is not one "
                                      f"of {', '.join(IMAGE_TYPES)}.")
        return str(declared)
    if glance_partition or instance_info.get("kernel") or instance_info.get("ramdisk"):
        return PARTITION
    return WHOLE_DISK


def check_partition(instance_info: Mapping[str, Any], *, need_kernel: bool = True) -> None:
    """Name the first missing partition field. ``need_kernel`` is False for Glance
    images (their properties name them)."""
    needed = PARTITION_FIELDS if need_kernel else ("root_gb",)
    for field in needed:
        if instance_info.get(field) in (None, ""):
            raise MissingImageInfo(field, f"instance_info is missing {field}, which a "
                                          f"partition image needs.")
    root_gb = instance_info["root_gb"]
    if isinstance(root_gb, bool) or not str(root_gb).isdigit() or int(root_gb) < 1:
        raise ImageReferenceError(f"instance_info root_gb must be a positive integer, got "
                                  f"{root_gb!r}.")


def declared_digests(instance_info: Mapping[str, Any], *, allow_md5: bool) -> ImageDigests:
    """image_checksum and/or image_os_hash_algo + image_os_hash_value; one is required."""
    checksum = _text(instance_info, "image_checksum")
    algo = _text(instance_info, "image_os_hash_algo")
    value = _text(instance_info, "image_os_hash_value")
    if (algo is None) != (value is None):
        missing = "image_os_hash_value" if value is None else "image_os_hash_algo"
        raise MissingImageInfo(missing, f"instance_info is missing {missing}: "
                                        f"image_os_hash_algo and image_os_hash_value go "
                                        f"together.")
    if algo is None and checksum is None:
        raise MissingImageInfo(
            "image_checksum", "instance_info must carry image_checksum, or "
            "image_os_hash_algo and image_os_hash_value, for an image that is not in "
            "Glance (nothing else says what its bytes must be).")
    if algo is not None:
        normalized = algo.lower().replace("-", "")
        if normalized not in hashlib.algorithms_available:
            raise ImageReferenceError(f"instance_info image_os_hash_algo {algo!r} is not a "
                                      f"known hash algorithm.")
        if normalized == "md5" and not allow_md5:
            raise ImageReferenceError("instance_info image_os_hash_algo md5 is not allowed "
                                      "([agent] allow_md5_checksum); use sha256 or sha512.")
    if checksum is not None and not is_url(checksum):
        try:
            require_checksum_fields({"checksum": checksum}, allow_md5=allow_md5)
        except ChecksumError as exc:
            if algo is None:  # the checksum is the only digest: it must be usable
                raise ImageReferenceError(f"instance_info image_checksum: {exc}") from None
    return ImageDigests(os_hash_algo=algo, os_hash_value=value, checksum=checksum)


def declared_image(instance_info: Mapping[str, Any], *, allow_md5: bool) -> DeclaredImage:
    """Check and return what instance_info says about a non-Glance image."""
    kind = image_type(instance_info)
    if kind == PARTITION:
        check_partition(instance_info)
    disk_format = _text(instance_info, "image_disk_format")
    return DeclaredImage(kind, declared_digests(instance_info, allow_md5=allow_md5),
                         disk_format)
