"""Disk image files partitioned with sfdisk, and what blkid says about them."""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import shutil
import struct
import subprocess
from typing import Any

SBIN = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
SFDISK = shutil.which("sfdisk", path=SBIN)
BLKID = shutil.which("blkid", path=SBIN)
MiB = 1024 * 1024


def make_disk(path: pathlib.Path, size: int, script: str, label: str = "dos") -> pathlib.Path:
    """A sparse file of ``size`` bytes with the partitions of an sfdisk ``script``."""
    with open(path, "wb") as disk:
        disk.truncate(size)
    sfdisk(path, "--label", label, script=script)
    return path


def sfdisk(path: pathlib.Path | str, *args: str, script: str | None = None) -> str:
    assert SFDISK is not None
    result = subprocess.run([SFDISK, "-q", "--no-reread", "--no-tell-kernel", *args,
                             str(path)], input=script, capture_output=True, text=True,
                            check=True)
    return result.stdout


def partitions(path: pathlib.Path | str) -> list[dict[str, Any]]:
    """sfdisk's partitions, with "offset" and "bytes" added (sectors are not always 512)."""
    table = json.loads(sfdisk(path, "--json"))["partitiontable"]
    sector = int(table["sectorsize"])
    return [{**p, "offset": p["start"] * sector, "bytes": p["size"] * sector}
            for p in table.get("partitions", [])]


def blkid_label(path: pathlib.Path | str, offset: int) -> str | None:
    """The filesystem label blkid (so udev, so cloud-init) finds at ``offset``."""
    assert BLKID is not None
    result = subprocess.run([BLKID, "-p", "-O", str(offset), "-o", "export", str(path)],
                            capture_output=True, text=True, check=False)
    values = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    return values.get("LABEL")


def find_labelled(path: pathlib.Path | str, label: str = "config-2") -> list[dict[str, Any]]:
    """The partitions whose filesystem blkid says is labelled ``label`` (any case)."""
    return [p for p in partitions(path)
            if (blkid_label(path, p["offset"]) or "").lower() == label]


def read_range(path: pathlib.Path | str, offset: int, length: int) -> bytes:
    with open(path, "rb") as disk:
        disk.seek(offset)
        return disk.read(length)


def digest(path: pathlib.Path | str, ranges: list[tuple[int, int]]) -> str:
    """sha256 of the byte ranges [start, end) of a file, in order."""
    hasher = hashlib.sha256()
    with open(path, "rb") as disk:
        for start, end in ranges:
            disk.seek(start)
            remaining = end - start
            while remaining:
                chunk = disk.read(min(remaining, 8 * MiB))
                assert chunk, "range past the end of the file"
                hasher.update(chunk)
                remaining -= len(chunk)
    return hasher.hexdigest()


def fill(path: pathlib.Path | str, offset: int, data: bytes) -> None:
    with open(path, "r+b") as disk:
        disk.seek(offset)
        disk.write(data)


def fat12_image(label: str, sectors: int = 8192) -> bytes:
    """A minimal empty FAT12 filesystem (what mkfs.vfat -n LABEL makes, in short).

    The label is in the boot sector and in the root directory, where blkid looks.
    """
    boot = bytearray(512)
    boot[0:11] = b"\xeb\x3c\x90MSWIN4.1"
    # bytes/sector, sectors/cluster, reserved, FATs, root entries, sectors, media,
    # sectors/FAT, sectors/track, heads, hidden sectors, 32-bit sectors
    struct.pack_into("<HBHBHHBHHHII", boot, 11, 512, 4, 1, 2, 512, sectors, 0xF8, 6, 32, 64,
                     0, 0)
    struct.pack_into("<BBBI11s8s", boot, 36, 0x80, 0, 0x29, 0x1234ABCD,
                     label.encode().ljust(11), b"FAT12   ")
    boot[510:512] = b"\x55\xaa"
    image = bytearray(sectors * 512)
    image[0:512] = boot
    for fat in range(2):
        start = 512 * (1 + 6 * fat)
        image[start:start + 3] = b"\xf8\xff\xff"
    root = 512 * (1 + 2 * 6)
    image[root:root + 11] = label.encode().ljust(11)
    image[root + 11] = 0x08  # volume label entry
    return bytes(image)
