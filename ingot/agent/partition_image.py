"""Deploying a partition image: the table, the root file system image, swap, ephemeral.

The disk is partitioned (partition_layout.py), then each partition is used through its
own block device: the kernel's ``vda2`` on a real disk, a partition-scanning loop device
for a disk image file (local-vm nodes). The root image goes through the same writer as
whole-disk images (download, verify, convert) onto the root partition; swap and the
ephemeral file system are made with mkswap and mkfs. With ``preserve_ephemeral`` the
disk must already hold the same ephemeral partition: its bytes are left alone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import stat
import subprocess
import time
from collections.abc import Callable, Iterator

from ingot.agent import writer
from ingot.images.partition_layout import PartitionSpec, PlannedPartition, sfdisk_script

LOG = logging.getLogger(__name__)

PARTITION_WAIT = 15.0  # seconds for the kernel to show a new partition's device
SWAP_LABEL = "swap1"  # Ironic's agent's labels
EPHEMERAL_LABEL = "ephemeral0"
ESP_LABEL = "efi-part"


class PartitionImageError(RuntimeError):
    """Partitioning or making a file system failed; the message says which."""


@dataclasses.dataclass(frozen=True)
class PartitionResult:
    """What landed where: partition role -> number, and the uuids IPA reports."""

    partitions: dict[str, str]
    root_uuid: str
    efi_uuid: str | None
    write: writer.WriteResult


def run(argv: list[str], *, what: str, timeout: float = 300, stdin: str | None = None
        ) -> str:
    binary = shutil.which(argv[0], path=os.pathsep.join(
        [os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
    if binary is None:
        raise PartitionImageError(f"{argv[0]} is not installed: cannot {what}.")
    try:
        done = subprocess.run([binary, *argv[1:]], input=stdin, capture_output=True, text=True,
                              timeout=timeout, check=False, env={**os.environ, "LC_ALL": "C"})
    except subprocess.TimeoutExpired:
        raise PartitionImageError(f"{argv[0]} took more than {timeout:.0f} s to "
                                  f"{what}.") from None
    if done.returncode != 0:
        detail = done.stderr.strip().replace("\n", "; ")[-800:] or f"exit {done.returncode}"
        raise PartitionImageError(f"could not {what}: {argv[0]}: {detail}")
    return done.stdout


class AttachedDisk:
    """A disk and its partitions as block devices, for the tools that need one.

    On a block device these are the kernel's own (``vda2``); a disk image file gets a
    loop device for the whole file and one per partition used, at its offset (loop
    devices' own partition scanning is not available everywhere, in containers).
    """

    def __init__(self, target: str, stack: contextlib.ExitStack):
        self.target = target
        self.file = not stat.S_ISBLK(os.stat(target).st_mode)
        self._stack = stack
        self._whole: str | None = None if self.file else target

    @property
    def whole(self) -> str:
        if self._whole is None:
            self._whole = self._loop([])
        return self._whole

    def partition(self, number: int) -> str:
        if not self.file:
            return partition_device(self.target, number)
        for part in current_partitions(self.target):
            if _number(str(part.get("node", "")), self.target) == number:
                sector = 512  # sfdisk's unit for image files
                return self._loop(["--offset", str(int(str(part["start"])) * sector),
                                   "--sizelimit", str(int(str(part["size"])) * sector)])
        raise PartitionImageError(f"{self.target} has no partition {number}.")

    def numbers(self) -> list[int]:
        return [_number(str(part.get("node", "")), self.target)
                for part in current_partitions(self.target)]

    def _loop(self, options: list[str]) -> str:
        loop = run(["losetup", "--find", "--show", *options, self.target],
                   what=f"attach {self.target} to a loop device").strip()
        self._stack.callback(_detach, loop)
        return loop


def _detach(loop: str) -> None:
    with contextlib.suppress(PartitionImageError):
        run(["losetup", "--detach", loop], what=f"detach {loop}")


def _number(node: str, disk: str) -> int:
    suffix = node[len(disk):].removeprefix("p") if node.startswith(disk) else ""
    return int(suffix) if suffix.isdigit() else 0


@contextlib.contextmanager
def attached(target: str) -> Iterator[AttachedDisk]:
    with contextlib.ExitStack() as stack:
        yield AttachedDisk(target, stack)


def partition_device(disk: str, number: int) -> str:
    """/dev/vda -> /dev/vda2; /dev/nvme0n1 and /dev/loop0 -> ...p2."""
    return f"{disk}{'p' if disk[-1].isdigit() else ''}{number}"


def reread(disk: str, numbers: list[int]) -> None:
    """Make the kernel show the new table's partitions and wait for their devices."""
    with contextlib.suppress(PartitionImageError):
        run(["blockdev", "--rereadpt", disk], what=f"re-read the partitions of {disk}")
    deadline = time.monotonic() + PARTITION_WAIT
    for number in numbers:
        path = partition_device(disk, number)
        while not os.path.exists(path):
            if time.monotonic() > deadline:
                raise PartitionImageError(f"{path} did not appear after partitioning "
                                          f"{disk}.")
            time.sleep(0.2)


def current_partitions(disk: str) -> list[dict[str, object]]:
    try:
        table = json.loads(run(["sfdisk", "--json", disk], what=f"read {disk}'s table"))
    except PartitionImageError:
        return []  # no table yet
    return list(table.get("partitiontable", {}).get("partitions", []))


def check_preserved(disk: str, spec: PartitionSpec, ephemeral: PlannedPartition,
                    sector_size: int) -> None:
    """preserve_ephemeral needs the same ephemeral partition there already."""
    per_mib = (1 << 20) // sector_size
    start, size = ephemeral.start_mib * per_mib, ephemeral.size_mib * per_mib
    for part in current_partitions(disk):
        if part.get("start") == start and part.get("size") == size:
            return
    raise PartitionImageError(
        f"preserve_ephemeral: {disk} has no ephemeral partition of {spec.ephemeral_mb} "
        f"MiB at {ephemeral.start_mib} MiB to keep (the disk was deployed with other "
        f"sizes, or not at all); deploy without preserve_ephemeral.")


def block_uuid(device: str) -> str:
    """The file system UUID, else the partition UUID (as Ironic's agent reports)."""
    for tag in ("UUID", "PARTUUID"):
        with contextlib.suppress(PartitionImageError):
            value = run(["blkid", "-p", "-s", tag, "-o", "value", device],
                        what=f"read the {tag} of {device}").strip()
            if value:
                return value
    raise PartitionImageError(f"{device} has neither a file system nor a partition UUID.")


def make_filesystems(spec: PartitionSpec, devices: dict[str, str]) -> None:
    if "swap" in devices:
        run(["mkswap", "-L", SWAP_LABEL, devices["swap"]], what="make the swap space")
    if "ephemeral" in devices and not spec.preserve_ephemeral:
        fmt = spec.ephemeral_format
        argv = ["mkfs.vfat", "-n", EPHEMERAL_LABEL.upper()] if fmt == "vfat" else \
            [f"mkfs.{fmt}", "-F", "-q", "-L", EPHEMERAL_LABEL]
        run([*argv, devices["ephemeral"]], what=f"make the {fmt} ephemeral file system")
    if "efi" in devices:
        run(["mkfs.vfat", "-F", "32", "-n", ESP_LABEL.upper(), devices["efi"]],
            what="make the EFI system partition's file system")


def deploy(target: str, spec: PartitionSpec,
           write_root: Callable[[str], writer.WriteResult]) -> PartitionResult:
    """Partition ``target`` and fill its partitions; ``write_root`` writes the root
    file system image onto the device it is given."""
    info = writer.describe_target(target)
    planned = spec.plan()
    needed = spec.needed_mib() << 20
    if info.capacity is not None and info.capacity < needed:
        raise PartitionImageError(f"{target} has {info.capacity >> 20} MiB; the partitions "
                                  f"asked for need {needed >> 20} MiB.")
    if info.capacity is None and info.size < needed:
        os.truncate(target, needed)  # a disk image file grows to hold the layout
    with attached(target) as disk:
        sector_size = 512 if disk.file else int(run(
            ["blockdev", "--getss", target], what="read the sector size"))
        ephemeral = next((p for p in planned if p.role == "ephemeral"), None)
        if spec.preserve_ephemeral:
            if ephemeral is None:
                raise PartitionImageError("preserve_ephemeral is set but ephemeral_mb is 0.")
            check_preserved(target, spec, ephemeral, sector_size)
        else:
            # No old signature may survive under the new partitions.
            run(["wipefs", "--all", "--force", target], what=f"wipe {target}'s signatures")
        # A kept ephemeral partition keeps its signature; new partitions lose old ones.
        wipe = "never" if spec.preserve_ephemeral else "always"
        argv = ["sfdisk", "--lock", "--wipe", wipe, "--wipe-partitions", wipe]
        if disk.file:
            argv += ["--no-reread", "--no-tell-kernel"]
        run([*argv, target], what=f"partition {target}",
            stdin=sfdisk_script(spec, sector_size))
        if not disk.file:
            reread(target, [p.number for p in planned])
        devices = {p.role: disk.partition(p.number) for p in planned}
        make_filesystems(spec, devices)
        LOG.info("Partitioned %s (%s, %s): %s", target, spec.disk_label, spec.boot_mode,
                 ", ".join(f"{p.role} {p.size_mib} MiB" for p in planned))
        result = write_root(devices["root"])
        os.sync()
        root_uuid = block_uuid(devices["root"])
        efi_uuid = block_uuid(devices["efi"]) if "efi" in devices else None
        numbers = {p.role: str(p.number) for p in planned}
    return PartitionResult(numbers, root_uuid, efi_uuid, result)
