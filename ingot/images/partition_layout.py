"""The partition table of a partition image, as Ironic's agent lays it out.

The disk label is ``disk_label`` when given, else GPT for UEFI and MBR for BIOS. First
an EFI system partition (UEFI) or a BIOS boot partition (GPT on BIOS, where GRUB puts
its core image), then ephemeral, swap and root, each 1 MiB aligned. The config drive
partition is added afterwards at the end of the disk (configdrive/partition.py), as
for whole-disk images. The layout depends only on these inputs, so a rebuild with
``preserve_ephemeral`` writes the same table and the ephemeral partition's bytes stay.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

MiB = 1 << 20
ESP_MB = 550  # ironic-lib's default efi_system_partition_size
BIOS_BOOT_MB = 1
CONFIG_DRIVE_MB = 64  # Ironic's largest config drive, at the end of the disk
EPHEMERAL_FORMATS = ("ext4", "ext3", "ext2", "vfat")
DISK_LABELS = ("msdos", "gpt")
BOOT_MODES = ("bios", "uefi")

# (GPT type GUID, MBR type) of each role.
_TYPES = {
    "efi": ("C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "ef"),
    "bios_boot": ("21686148-6449-6E6F-744E-656564454649", ""),
    "swap": ("0657FD6D-A4AB-43C4-84E5-0933C84B4F4F", "82"),
    "ephemeral": ("0FC63DAF-8483-4772-8E79-3D69D8477DE4", "83"),
    "root": ("0FC63DAF-8483-4772-8E79-3D69D8477DE4", "83"),
}


class LayoutError(ValueError):
    """The partition fields cannot describe a layout; the message names the field."""


@dataclasses.dataclass(frozen=True)
class PlannedPartition:
    number: int
    role: str  # efi, bios_boot, ephemeral, swap, root
    start_mib: int
    size_mib: int


@dataclasses.dataclass(frozen=True)
class PartitionSpec:
    """The partition fields of IPA's image_info, checked."""

    root_mb: int
    swap_mb: int = 0
    ephemeral_mb: int = 0
    ephemeral_format: str = "ext4"
    preserve_ephemeral: bool = False
    boot_mode: str = "bios"  # bios or uefi
    disk_label: str = "msdos"  # msdos or gpt

    @classmethod
    def from_image_info(cls, info: Mapping[str, Any]) -> PartitionSpec:
        root_mb = _mib(info, "root_mb", minimum=1)
        boot_mode = info.get("deploy_boot_mode") or "bios"
        if boot_mode not in BOOT_MODES:
            raise LayoutError(f"deploy_boot_mode {boot_mode!r} is not bios or uefi.")
        label = info.get("disk_label") or ("gpt" if boot_mode == "uefi" else "msdos")
        if label not in DISK_LABELS:
            raise LayoutError(f"disk_label {label!r} is not msdos or gpt.")
        fmt = info.get("ephemeral_format") or "ext4"
        if fmt not in EPHEMERAL_FORMATS:
            raise LayoutError(f"ephemeral_format {fmt!r} is not one of "
                              f"{', '.join(EPHEMERAL_FORMATS)}.")
        preserve = info.get("preserve_ephemeral", False)
        if not isinstance(preserve, bool):
            raise LayoutError("preserve_ephemeral must be a boolean.")
        return cls(root_mb=root_mb, swap_mb=_mib(info, "swap_mb"),
                   ephemeral_mb=_mib(info, "ephemeral_mb"), ephemeral_format=fmt,
                   preserve_ephemeral=preserve, boot_mode=boot_mode,
                   disk_label=label)

    def plan(self) -> list[PlannedPartition]:
        roles: list[tuple[str, int]] = []
        if self.boot_mode == "uefi":
            roles.append(("efi", ESP_MB))
        elif self.disk_label == "gpt":
            roles.append(("bios_boot", BIOS_BOOT_MB))
        if self.ephemeral_mb:
            roles.append(("ephemeral", self.ephemeral_mb))
        if self.swap_mb:
            roles.append(("swap", self.swap_mb))
        roles.append(("root", self.root_mb))
        if self.disk_label == "msdos" and len(roles) > 3:
            # The fourth primary slot is the config drive's.
            raise LayoutError("disk_label msdos holds 4 primary partitions: EFI, "
                              "ephemeral, swap, root and the config drive need gpt.")
        planned, start = [], 1
        for number, (role, size) in enumerate(roles, start=1):
            planned.append(PlannedPartition(number, role, start, size))
            start += size
        return planned

    def needed_mib(self) -> int:
        """The disk size the layout needs, with room for a config drive and the backup
        GPT."""
        last = self.plan()[-1]
        return last.start_mib + last.size_mib + CONFIG_DRIVE_MB + 1


def sfdisk_script(spec: PartitionSpec, sector_size: int) -> str:
    """The whole table as sfdisk input."""
    per_mib = MiB // sector_size
    lines = [f"label: {'gpt' if spec.disk_label == 'gpt' else 'dos'}", "unit: sectors", ""]
    for part in spec.plan():
        gpt_type, mbr_type = _TYPES[part.role]
        fields = [f"start={part.start_mib * per_mib}", f"size={part.size_mib * per_mib}"]
        if spec.disk_label == "gpt":
            fields += [f"type={gpt_type}", f"name={part.role}"]
        else:
            fields.append(f"type={mbr_type}")
            if part.role == "root" and spec.boot_mode == "bios":
                fields.append("bootable")  # what old BIOSes look for
        lines.append(", ".join(fields))
    return "\n".join(lines) + "\n"


def _mib(info: Mapping[str, Any], field: str, *, minimum: int = 0) -> int:
    value = info.get(field) or 0
    if isinstance(value, bool):
        raise LayoutError(f"{field} must be an integer number of MiB, got {value!r}.")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise LayoutError(f"{field} must be an integer number of MiB, got {value!r}."
                          ) from None
    if number < minimum:
        raise LayoutError(f"{field} must be at least {minimum}, got {number}.")
    return number
