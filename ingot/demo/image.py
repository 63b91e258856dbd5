"""A small bootable raw disk image: an MBR whose boot code prints a greeting through
the BIOS, and one bootable partition filled with data to deploy."""

from __future__ import annotations

import os
import struct

SECTOR = 512
TABLE = 446  # where the MBR's partition table starts
MESSAGE = b"ingot demo image: deployed by ingot\r\n\0"

# Real-mode x86: set up segments and stack, print MESSAGE with int 10h/ah=0Eh, halt.
# The message follows the code at 0x7c00 + len(_CODE).
_CODE = bytes.fromhex(
    "fa31c08ed88ec08ed0bc007cfb"  # cli; zero ds/es/ss; sp=0x7c00; sti
    "be217c"                      # mov si, 0x7c21 (the message)
    "ac08c07409b40ebb0700cd10ebf2"  # print loop: lodsb; test; jz halt; int 10h; jmp
    "f4ebfd"                      # halt: hlt; jmp halt
)
assert len(_CODE) == 0x21


def mbr(total_sectors: int, start: int = 2048) -> bytes:
    """Boot sector with one bootable Linux partition from ``start`` to the end."""
    boot = (_CODE + MESSAGE).ljust(446, b"\0")
    # No CHS geometry (0xFE/0xFF/0xFF means "use LBA"), as modern tools write it.
    entry = struct.pack("<B3sB3sII", 0x80, b"\xfe\xff\xff", 0x83, b"\xfe\xff\xff",
                        start, total_sectors - start)
    return boot + entry + b"\0" * 48 + b"\x55\xaa"


def build(size_mib: int) -> bytes:
    sectors = size_mib * 1024 * 1024 // SECTOR
    first = mbr(sectors)
    partition_data = os.urandom(size_mib * 1024 * 1024 - 2048 * SECTOR)
    return first + b"\0" * (2048 * SECTOR - SECTOR) + partition_data


# ISO 9660: the primary volume descriptor is sector 16 (of 2048 bytes); its volume
# identifier, 32 bytes, starts at byte 40.
_ISO_VOLUME_ID = slice(16 * 2048 + 40, 16 * 2048 + 72)


def iso_label(partition_start: bytes) -> str | None:
    """The volume label of an ISO 9660 file system (a config drive's is config-2)."""
    descriptor = partition_start[16 * 2048: 16 * 2048 + 6]
    if descriptor[1:6] != b"CD001":
        return None
    return partition_start[_ISO_VOLUME_ID].decode("ascii", "replace").strip()


def partitions(disk: bytes) -> list[dict[str, int | bool]]:
    """The primary partitions of an MBR, for showing what landed on a disk."""
    if disk[510:512] != b"\x55\xaa":
        return []
    found = []
    for index in range(4):
        raw = disk[446 + 16 * index: 446 + 16 * (index + 1)]
        flag, _chs, kind, _chs_end, start, count = struct.unpack("<B3sB3sII", raw)
        if kind:
            found.append({"number": index + 1, "bootable": flag == 0x80, "type": kind,
                          "start": start, "sectors": count})
    return found
