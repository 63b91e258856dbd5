"""Writing a config drive to a partition labelled ``config-2`` on the node's disk (agent).

The steps, each fixing a weakness of Ironic's agent:

1. Get the drive (download it if it is a URL, with proxies and retries) and decode it
   completely, before the disk is touched: a bad drive leaves the disk unchanged.
2. Read the partition table with sfdisk. On GPT, move the backup header to the end of
   the disk first when the image written to it was smaller than the disk.
3. Reuse a partition whose filesystem (ISO 9660 or FAT, read at the partition's offset)
   is labelled config-2, if it is big enough. Otherwise add one at the end of the last
   free space, sized to the drive rounded up to a MiB (not always 64 MiB), within the
   MBR's 2 TiB reach on MBR disks; a config-2 partition too small to reuse has its
   label erased, so cloud-init finds only the new one.
4. Write the ISO at the partition's offset, fsync, and read its label back.

Works on block devices and on disk image files alike: no udev, lsblk or mount.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

from ingot.configdrive import LABEL, MAX_SIZE, MiB
from ingot.configdrive.check import decode_image, is_url
from ingot.configdrive.disk import (
    Partition,
    PartitionTable,
    add_partition,
    free_primary_slot,
    gpt_backup_misplaced,
    place_at_end,
    read_table,
    relocate_gpt_backup,
)
from ingot.configdrive.errors import (
    ConfigDriveFetchError,
    ConfigDrivePartitionError,
    ConfigDriveTooLarge,
    InvalidConfigDrive,
)
from ingot.configdrive.fslabel import ISO_HEADER_SIZE, is_config_drive_label, read_label

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConfigDrivePartition:
    """Where the drive went: partition ``number``, ``size`` bytes at byte ``offset``."""

    number: int
    offset: int
    size: int
    drive_size: int  # bytes of ISO written at the start of the partition
    created: bool  # False if an existing config-2 partition was reused
    table: str  # "gpt" or "dos"


def write_config_drive(target_path: str, configdrive: str | bytes, *,
                       fetch: Callable[[str], bytes] | None = None) -> ConfigDrivePartition:
    """Write a gzip+base64 drive (or one at an http(s) URL) to a config-2 partition.

    ``target_path`` is the whole disk: a block device or a disk image file. ``fetch``
    downloads a drive given as a URL: the agent's image download path
    (agent/standby.py configdrive_fetcher), raising ConfigDriveFetchError.
    Raises ConfigDriveRejected (bad or too big drive), ConfigDriveFetchError or
    ConfigDrivePartitionError.
    """
    iso = _load(configdrive, fetch)
    table = read_table(target_path)
    if table.sector_size > 2048:
        # Linux cannot mount 2048-byte-block ISO 9660 on a 4Kn disk (Ironic's agent then
        # writes a FAT copy); the drive is still written, for readers of the raw bytes.
        LOG.warning("%s has %d-byte sectors: Linux cannot mount the ISO 9660 config drive "
                    "from it", target_path, table.sector_size)
    if gpt_backup_misplaced(table):
        LOG.info("moving the backup GPT of %s to the end of the disk", target_path)
        table = relocate_gpt_backup(table)
    fd = os.open(target_path, os.O_RDWR | os.O_CLOEXEC)
    try:
        partition, created, stale = _choose_partition(fd, table, len(iso))
        offset = table.offset(partition)
        _pwrite_all(fd, iso, offset)
        if stale is not None:
            # Only now that the new drive is in place: a failure above leaves the old one.
            _pwrite_all(fd, bytes(min(ISO_HEADER_SIZE, table.size(stale))), table.offset(stale))
        os.fsync(fd)
        written = read_label(fd, offset, len(iso))
    finally:
        os.close(fd)
    if written is None or not is_config_drive_label(written.label):
        raise ConfigDrivePartitionError(
            f"the config drive written to partition {partition.number} of {target_path} "
            f"does not read back as {LABEL!r}")
    LOG.info("config drive (%d bytes) written to %s partition %d of %s at byte %d",
             len(iso), "new" if created else "existing", partition.number, target_path,
             offset)
    return ConfigDrivePartition(number=partition.number, offset=offset,
                                size=table.size(partition), drive_size=len(iso),
                                created=created, table=table.label)


def _load(configdrive: str | bytes, fetch: Callable[[str], bytes] | None) -> bytes:
    if not isinstance(configdrive, str | bytes):
        raise InvalidConfigDrive("configdrive must be a URL or a gzip+base64 string here; "
                                 "a JSON drive is built into one by the conductor")
    if is_url(configdrive):
        url = configdrive.decode("ascii", "replace") if isinstance(configdrive, bytes) \
            else configdrive
        if fetch is None:
            raise ConfigDriveFetchError("the configdrive is a URL and there is no way to "
                                        "download it here")
        configdrive = fetch(url.strip())
    try:
        return decode_image(configdrive, max_size=MAX_SIZE)
    except ConfigDriveTooLarge:
        raise ConfigDriveTooLarge(f"configdrive is larger than {MAX_SIZE // MiB} MiB, the "
                                  f"most a config drive partition holds") from None


def _choose_partition(fd: int, table: PartitionTable,
                      size: int) -> tuple[Partition, bool, Partition | None]:
    """(partition to write, whether it is new, old config-2 partition to erase)."""
    labelled = _labelled_partitions(fd, table)
    if len(labelled) > 1:
        numbers = ", ".join(str(p.number) for p in labelled)
        raise ConfigDrivePartitionError(
            f"{table.path} has several partitions labelled {LABEL!r} ({numbers}); "
            f"remove all but one")
    if labelled and table.size(labelled[0]) >= size:
        return labelled[0], False, None
    stale = labelled[0] if labelled else None
    if stale is not None:
        LOG.info("partition %d of %s is labelled %s but too small (%d bytes) for the "
                 "drive (%d bytes); making a new one", stale.number, table.path, LABEL,
                 table.size(stale), size)
    return _create_partition(table, size), True, stale


def _labelled_partitions(fd: int, table: PartitionTable) -> list[Partition]:
    found = []
    for partition in table.partitions:
        if table.is_container(partition) or not partition.sectors:
            continue
        label = read_label(fd, table.offset(partition), table.size(partition))
        if label is not None and is_config_drive_label(label.label):
            found.append(partition)
    return found


def _create_partition(table: PartitionTable, size: int) -> Partition:
    if table.label == "dos" and free_primary_slot(table) is None:
        raise ConfigDrivePartitionError(
            f"cannot add a config drive partition to {table.path}: its MBR partition "
            f"table already has 4 primary partitions")
    mib = max(1, -(-size // MiB))
    sectors = mib * MiB // table.sector_size
    start = place_at_end(table, sectors)
    if start is None:
        where = " within the first 2 TiB" if table.label == "dos" else ""
        raise ConfigDrivePartitionError(
            f"no free space of {mib} MiB{where} on {table.path} for the config drive "
            f"partition")
    _, partition = add_partition(table, start, sectors, name=LABEL)
    return partition


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written
