"""A disk's partition table, read and changed with util-linux ``sfdisk``.

sfdisk works the same on a block device and on a disk image file, and with ``--json``
gives the table without udev, lsblk or loop devices. Positions are in the disk's
logical sectors, as sfdisk reports them.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import stat
import struct
import subprocess
from dataclasses import dataclass
from typing import Literal

from ingot.configdrive import MiB
from ingot.configdrive.errors import ConfigDrivePartitionError

# Linux filesystem data, on either table: what the agent of Ironic creates too.
GPT_LINUX_TYPE = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
MBR_LINUX_TYPE = "83"
_MBR_EXTENDED_TYPES = frozenset({"5", "f", "85"})
# An MBR entry holds 32-bit sector numbers: nothing can end past sector 2**32 - 2.
_MBR_ADDRESSABLE_SECTORS = 2**32 - 1
_GPT_SIGNATURE = b"EFI PART"
_BLKSSZGET = 0x1268  # linux/fs.h: logical sector size of a block device


@dataclass(frozen=True)
class Partition:
    number: int
    start: int  # sectors
    sectors: int
    type: str

    @property
    def end(self) -> int:
        """The last sector."""
        return self.start + self.sectors - 1


@dataclass(frozen=True)
class PartitionTable:
    path: str
    label: Literal["gpt", "dos"]
    sector_size: int
    total_sectors: int
    first_usable: int
    last_usable: int
    partitions: tuple[Partition, ...]

    def offset(self, partition: Partition) -> int:
        return partition.start * self.sector_size

    def size(self, partition: Partition) -> int:
        return partition.sectors * self.sector_size

    def is_container(self, partition: Partition) -> bool:
        """An MBR extended partition: a box for logical ones, holding no filesystem."""
        return self.label == "dos" and partition.type.lower() in _MBR_EXTENDED_TYPES


def read_table(path: str) -> PartitionTable:
    output = _sfdisk(path, ["--json"], what="read the partition table of")
    table = json.loads(output)["partitiontable"]
    label = table["label"]
    if label not in ("gpt", "dos"):
        raise ConfigDrivePartitionError(
            f"{path} has a {label!r} partition table; only GPT and MBR are supported")
    sector_size = int(table.get("sectorsize") or _logical_sector_size(path))
    total = _disk_size(path) // sector_size
    if label == "gpt":
        first, last = int(table["firstlba"]), int(table["lastlba"])
    else:
        first, last = 1, min(total, _MBR_ADDRESSABLE_SECTORS) - 1
    partitions = tuple(
        Partition(number=_number(table["device"], entry["node"]), start=int(entry["start"]),
                  sectors=int(entry["size"]), type=str(entry["type"]))
        for entry in table.get("partitions", []))
    return PartitionTable(path=path, label=label, sector_size=sector_size,
                          total_sectors=total, first_usable=first, last_usable=last,
                          partitions=partitions)


def gpt_backup_misplaced(table: PartitionTable) -> bool:
    """Whether the backup GPT header is not in the last sector.

    That is the case when an image was written to a disk bigger than itself: the disk's
    end is then outside the table's usable range, and firmware that checks the backup
    header may call the table corrupt.
    """
    if table.label != "gpt":
        return False
    with open(table.path, "rb") as disk:
        disk.seek(table.sector_size)
        header = disk.read(48)
    if header[:8] != _GPT_SIGNATURE:
        return False  # sfdisk read the backup; --relocate would not help
    (backup_lba,) = struct.unpack_from("<Q", header, 32)
    return bool(backup_lba != table.total_sectors - 1)


def relocate_gpt_backup(table: PartitionTable) -> PartitionTable:
    """Move the backup GPT to the end of the disk (and grow the protective MBR)."""
    _sfdisk(table.path, ["--relocate", "gpt-bak-std"], what="move the backup GPT of")
    return read_table(table.path)


def place_at_end(table: PartitionTable, sectors: int) -> int | None:
    """The start of a MiB-aligned ``sectors`` long area at the end of the last free
    space that holds one, or None if none does."""
    align = max(1, MiB // table.sector_size)
    gaps: list[tuple[int, int]] = []
    cursor = table.first_usable
    for start, end in sorted((p.start, p.end) for p in table.partitions if p.sectors):
        if start > cursor:
            gaps.append((cursor, min(start - 1, table.last_usable)))
        cursor = max(cursor, end + 1)
    if cursor <= table.last_usable:
        gaps.append((cursor, table.last_usable))
    for gap_start, gap_end in reversed(gaps):
        start = (gap_end + 1 - sectors) // align * align
        if start >= gap_start:
            return start
    return None


def free_primary_slot(table: PartitionTable) -> int | None:
    """The lowest free MBR primary entry (1-4), or None if all four are used."""
    used = {p.number for p in table.partitions}
    return next((slot for slot in (1, 2, 3, 4) if slot not in used), None)


def add_partition(table: PartitionTable, start: int, sectors: int, *,
                  name: str) -> tuple[PartitionTable, Partition]:
    """Add a Linux data partition; the new table and the partition as sfdisk made it."""
    if table.label == "gpt":
        script = f"start={start}, size={sectors}, type={GPT_LINUX_TYPE}, name={name}\n"
        options = ["--append"]
    else:
        slot = free_primary_slot(table)
        if slot is None:
            raise ConfigDrivePartitionError(f"{table.path} already has 4 primary partitions")
        # The slot is explicit so that sfdisk cannot make it a logical partition.
        script = f"start={start}, size={sectors}, type={MBR_LINUX_TYPE}\n"
        options = ["--append", "-N", str(slot)]
    _sfdisk(table.path, options, what="add a partition to", script=script)
    new_table = read_table(table.path)
    for partition in new_table.partitions:
        if partition.start == start and partition.sectors == sectors:
            return new_table, partition
    raise ConfigDrivePartitionError(
        f"sfdisk did not create the partition at sector {start} of {table.path}")


def _sfdisk(path: str, options: list[str], *, what: str, script: str | None = None) -> str:
    command = [_sfdisk_binary(), "--lock", *options]
    if not _is_block_device(path):
        # A regular file has no kernel partition table to update.
        command += ["--no-reread", "--no-tell-kernel"]
    command.append(path)
    result = subprocess.run(command, input=script, capture_output=True, text=True,
                            env={**os.environ, "LC_ALL": "C"}, check=False)
    if result.returncode != 0:
        detail = result.stderr.strip().replace("\n", "; ") or f"exit {result.returncode}"
        raise ConfigDrivePartitionError(f"could not {what} {path}: sfdisk: {detail}")
    return result.stdout


def _sfdisk_binary() -> str:
    # sbin may be missing from PATH of a non-root user; sfdisk is in util-linux's fdisk.
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    binary = shutil.which("sfdisk", path=search)
    if binary is None:
        raise ConfigDrivePartitionError(
            "sfdisk is not installed (Debian and Ubuntu: package fdisk; "
            "Fedora and RHEL: util-linux)")
    return binary


def _is_block_device(path: str) -> bool:
    return stat.S_ISBLK(os.stat(path).st_mode)


def _logical_sector_size(path: str) -> int:
    """For sfdisk older than 2.36, whose JSON lacks "sectorsize"."""
    if not _is_block_device(path):
        return 512
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return int(struct.unpack("I", fcntl.ioctl(fd, _BLKSSZGET, b"\0" * 4))[0])
    finally:
        os.close(fd)


def _disk_size(path: str) -> int:
    # Seeking to the end works for block devices too, where st_size is 0.
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.lseek(fd, 0, os.SEEK_END)
    finally:
        os.close(fd)


def _number(device: str, node: str) -> int:
    """Partition number from its node: disk.img3, /dev/sda3, /dev/nvme0n1p3, /dev/loop0p3."""
    suffix = node[len(device):].removeprefix("p") if node.startswith(device) else ""
    if not suffix.isdigit():
        match = re.search(r"(\d+)$", node)
        if match is None:
            raise ConfigDrivePartitionError(f"sfdisk listed a partition {node!r} without "
                                            f"a number")
        suffix = match.group(1)
    return int(suffix)
