"""Reading a filesystem's label from its first bytes: ISO 9660 and FAT.

This is what blkid does to find ``LABEL=config-2``, done in-process so neither the API
(which has the bytes in memory) nor the agent (which reads at a partition offset of a disk
or a disk image file) needs udev, lsblk or a mount.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import Literal

from ingot.configdrive import LABEL

# Ecma-119: 16 sectors of 2048 bytes of system area, then the volume descriptors; blkid
# (and so cloud-init) reads the label of the descriptor at sector 16.
ISO_PVD_OFFSET = 16 * 2048
ISO_HEADER_SIZE = ISO_PVD_OFFSET + 2048

_FAT_BOOT_SECTOR_SIZE = 512


@dataclass(frozen=True)
class IsoVolume:
    """The facts of an ISO 9660 primary volume descriptor the callers need."""

    label: str
    block_size: int
    blocks: int

    @property
    def size(self) -> int:
        """Bytes the volume claims to span; an image shorter than this is truncated."""
        return self.block_size * self.blocks


@dataclass(frozen=True)
class FilesystemLabel:
    filesystem: Literal["iso9660", "vfat"]
    label: str


def is_config_drive_label(label: str) -> bool:
    """cloud-init accepts config-2 and CONFIG-2 (FAT labels are upper case)."""
    return label.lower() == LABEL


def parse_iso_volume(header: bytes) -> IsoVolume | None:
    """The primary volume descriptor at sector 16, or None if there is none."""
    pvd = header[ISO_PVD_OFFSET:ISO_HEADER_SIZE]
    if len(pvd) < 2048 or pvd[0:7] != b"\x01CD001\x01":
        return None
    # Both-endian fields (Ecma-119 7.2.3, 7.3.3): a mismatch means this is not a PVD.
    blocks_le, blocks_be = int.from_bytes(pvd[80:84], "little"), int.from_bytes(pvd[84:88], "big")
    block_le, block_be = int.from_bytes(pvd[128:130], "little"), int.from_bytes(pvd[130:132], "big")
    if blocks_le != blocks_be or block_le != block_be or block_le not in (512, 1024, 2048):
        return None
    label = pvd[40:72].decode("ascii", errors="replace").rstrip(" \x00")
    return IsoVolume(label=label, block_size=block_le, blocks=blocks_le)


def parse_fat_label(boot_sector: bytes) -> str | None:
    """The volume label in a FAT12/16/32 boot sector, or None (not FAT, or no label)."""
    if len(boot_sector) < _FAT_BOOT_SECTOR_SIZE or boot_sector[510:512] != b"\x55\xaa":
        return None
    if boot_sector[0] not in (0xEB, 0xE9):
        return None
    bytes_per_sector, sectors_per_cluster = struct.unpack_from("<HB", boot_sector, 11)
    if bytes_per_sector not in (512, 1024, 2048, 4096) or sectors_per_cluster == 0 \
            or sectors_per_cluster & (sectors_per_cluster - 1):
        return None
    (sectors_per_fat16,) = struct.unpack_from("<H", boot_sector, 22)
    # FAT32 keeps its extended BPB 28 bytes further on, after the 32-bit FAT size.
    signature_at = 38 if sectors_per_fat16 else 66
    if boot_sector[signature_at] != 0x29:
        return None
    label = boot_sector[signature_at + 5:signature_at + 16]
    text = label.decode("ascii", errors="replace").rstrip(" \x00")
    return None if text in ("", "NO NAME") else text


def read_label(fd: int, offset: int, length: int) -> FilesystemLabel | None:
    """The label of the ISO 9660 or FAT filesystem at ``offset`` of an open disk."""
    header = os.pread(fd, min(length, ISO_HEADER_SIZE), offset)
    volume = parse_iso_volume(header)
    if volume is not None:
        return FilesystemLabel("iso9660", volume.label)
    fat = parse_fat_label(header[:_FAT_BOOT_SECTOR_SIZE])
    if fat is not None:
        return FilesystemLabel("vfat", fat)
    return None
