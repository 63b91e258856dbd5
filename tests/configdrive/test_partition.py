"""The agent side: a config-2 partition on GPT and MBR disk image files (and a loop device).

Each disk is a sparse file partitioned with sfdisk; the result is checked with blkid (how
udev and cloud-init find the drive) and pycdlib reading the partition's bytes.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import struct
import subprocess
from collections.abc import Iterator

import pytest

from ingot.configdrive.build import build_iso, encode
from ingot.configdrive.errors import (
    ConfigDrivePartitionError,
    ConfigDriveTooLarge,
    InvalidConfigDrive,
    NotBase64,
)
from ingot.configdrive.partition import ConfigDrivePartition, write_config_drive
from tests.configdrive import disks, isofiles
from tests.configdrive.conftest import NODE_UUID, Drive, make_drive

pytestmark = pytest.mark.usefixtures("need_disk_tools")

MiB = disks.MiB
DISK_SIZE = 64 * MiB


def fill_root(disk: pathlib.Path, start: int, end: int) -> None:
    """Recognisable data at both ends of the root partition [start, end)."""
    disks.fill(disk, start, os.urandom(4 * MiB))
    disks.fill(disk, end - 4 * MiB, os.urandom(4 * MiB))


def assert_drive_on_disk(disk: pathlib.Path | str, result: ConfigDrivePartition,
                         drive: Drive) -> None:
    """Found by label, and the partition's bytes hold the drive's exact files."""
    labelled = disks.find_labelled(disk)
    assert [(p["offset"], p["bytes"]) for p in labelled] == [(result.offset, result.size)]
    content = disks.read_range(disk, result.offset, result.size)
    assert isofiles.label(content) == "config-2"
    for version in ("latest", "2012-08-10"):
        directory = f"/openstack/{version}"
        assert isofiles.read_file(content, f"{directory}/meta_data.json") == \
            drive.meta_data_json
        assert isofiles.read_file(content, f"{directory}/user_data") == drive.user_data


def mib_up(size: int) -> int:
    return -(-size // MiB) * MiB


@pytest.fixture
def mbr_disk(tmp_path: pathlib.Path) -> pathlib.Path:
    disk = disks.make_disk(tmp_path / "mbr.img", DISK_SIZE,
                           "start=2048, size=40MiB, type=83\n", "dos")
    fill_root(disk, MiB, 41 * MiB)
    return disk


def test_mbr_disk(mbr_disk: pathlib.Path, drive: Drive) -> None:
    root = (MiB, 41 * MiB)
    root_before = disks.digest(mbr_disk, [root])

    result = write_config_drive(str(mbr_disk), drive.encoded)

    assert (result.number, result.table, result.created) == (2, "dos", True)
    assert (result.size, result.drive_size) == (mib_up(len(drive.iso)), len(drive.iso))
    # At the end of the disk, MiB-aligned.
    assert result.offset % MiB == 0
    assert DISK_SIZE - MiB < result.offset + result.size <= DISK_SIZE
    assert disks.partitions(mbr_disk)[1]["type"] == "83"
    assert_drive_on_disk(mbr_disk, result, drive)
    assert disks.digest(mbr_disk, [root]) == root_before


def test_outside_the_new_partition_nothing_changes(mbr_disk: pathlib.Path,
                                                   drive: Drive, tmp_path: pathlib.Path) -> None:
    copy = tmp_path / "copy.img"
    shutil.copyfile(mbr_disk, copy)
    result = write_config_drive(str(mbr_disk), drive.encoded)
    # Every byte but the MBR's second entry and the new partition is as it was.
    untouched = [(0, 446 + 16), (446 + 32, result.offset),
                 (result.offset + result.size, DISK_SIZE)]
    assert disks.digest(mbr_disk, untouched) == disks.digest(copy, untouched)
    assert disks.read_range(mbr_disk, 446 + 16, 16) != disks.read_range(copy, 446 + 16, 16)


def test_gpt_image_smaller_than_the_disk(tmp_path: pathlib.Path, drive: Drive) -> None:
    # A 32 MiB whole-disk image written to a 64 MiB disk: the backup GPT is mid-disk.
    disk = disks.make_disk(tmp_path / "gpt.img", 32 * MiB,
                           "start=2048, size=24MiB, type=linux\n", "gpt")
    fill_root(disk, MiB, 25 * MiB)
    os.truncate(disk, DISK_SIZE)
    root_before = disks.digest(disk, [(MiB, 25 * MiB)])
    last_lba = DISK_SIZE // 512 - 1

    result = write_config_drive(str(disk), drive.encoded)

    assert (result.number, result.table, result.created) == (2, "gpt", True)
    assert result.size == mib_up(len(drive.iso))
    # The primary header points at a backup header in the disk's last sector.
    header = disks.read_range(disk, 512, 92)
    assert struct.unpack_from("<Q", header, 32)[0] == last_lba
    assert disks.read_range(disk, last_lba * 512, 8) == b"EFI PART"
    verify = subprocess.run([disks.SFDISK or "sfdisk", "--verify", str(disk)],
                            capture_output=True, text=True, check=False)
    assert verify.returncode == 0, verify.stderr
    assert "No errors detected" in verify.stdout
    # At the end of the usable space (33 sectors of backup table follow it).
    assert result.offset % MiB == 0
    assert DISK_SIZE - 2 * MiB < result.offset + result.size <= (last_lba - 32) * 512
    new = disks.partitions(disk)[1]
    assert (new["name"], new["type"]) == ("config-2", "0FC63DAF-8483-4772-8E79-3D69D8477DE4")
    assert_drive_on_disk(disk, result, drive)
    assert disks.digest(disk, [(MiB, 25 * MiB)]) == root_before


def test_writing_again_reuses_the_partition(mbr_disk: pathlib.Path, drive: Drive) -> None:
    first = write_config_drive(str(mbr_disk), drive.encoded)
    other = make_drive(seed=2, hostname="node-2")
    second = write_config_drive(str(mbr_disk), other.encoded)
    assert second.created is False
    assert (second.number, second.offset, second.size) == (first.number, first.offset,
                                                           first.size)
    assert len(disks.partitions(mbr_disk)) == 2
    assert_drive_on_disk(mbr_disk, second, other)


def test_too_small_config2_partition_is_replaced(mbr_disk: pathlib.Path) -> None:
    small = make_drive(user_data_size=100 * 1024)
    big = make_drive(user_data_size=int(1.5 * MiB), seed=3)
    first = write_config_drive(str(mbr_disk), small.encoded)
    assert first.size == MiB
    second = write_config_drive(str(mbr_disk), big.encoded)
    assert second.created is True
    assert second.number == 3 and second.size == 2 * MiB
    assert second.offset + second.size <= first.offset
    # The old one no longer carries the label: cloud-init finds only the new drive.
    assert disks.blkid_label(mbr_disk, first.offset) is None
    assert_drive_on_disk(mbr_disk, second, big)


def test_fat_config2_partition_is_reused(tmp_path: pathlib.Path, drive: Drive) -> None:
    disk = disks.make_disk(tmp_path / "fat.img", DISK_SIZE,
                           "start=2048, size=40MiB, type=83\nsize=4MiB, type=c\n", "dos")
    fat_offset = disks.partitions(disk)[1]["offset"]
    disks.fill(disk, fat_offset, disks.fat12_image("CONFIG-2"))
    assert disks.blkid_label(disk, fat_offset) == "CONFIG-2"

    result = write_config_drive(str(disk), drive.encoded)

    assert (result.created, result.number, result.offset) == (False, 2, fat_offset)
    assert result.size == 4 * MiB
    assert_drive_on_disk(disk, result, drive)


def test_four_primary_partitions_refused(tmp_path: pathlib.Path, drive: Drive) -> None:
    script = "size=10MiB, type=83\n" * 4
    disk = disks.make_disk(tmp_path / "full.img", DISK_SIZE, script, "dos")
    before = disks.digest(disk, [(0, DISK_SIZE)])
    with pytest.raises(ConfigDrivePartitionError,
                       match="its MBR partition table already has 4 primary partitions"):
        write_config_drive(str(disk), drive.encoded)
    assert disks.digest(disk, [(0, DISK_SIZE)]) == before


def test_drive_over_64_mib_refused(mbr_disk: pathlib.Path) -> None:
    iso = build_iso(meta_data={}, user_data=bytes(65 * MiB), network_data=None,
                    vendor_data=None, node_uuid=NODE_UUID, node_name=None, max_size=None)
    before = disks.digest(mbr_disk, [(0, DISK_SIZE)])
    with pytest.raises(ConfigDriveTooLarge) as raised:
        write_config_drive(str(mbr_disk), encode(iso))
    assert raised.value.message == ("configdrive is larger than 64 MiB, the most a config "
                                    "drive partition holds")
    assert disks.digest(mbr_disk, [(0, DISK_SIZE)]) == before


def test_bad_drive_leaves_the_disk_unchanged(mbr_disk: pathlib.Path) -> None:
    before = disks.digest(mbr_disk, [(0, DISK_SIZE)])
    with pytest.raises(NotBase64):
        write_config_drive(str(mbr_disk), "not a config drive")
    assert disks.digest(mbr_disk, [(0, DISK_SIZE)]) == before


def test_json_drive_refused_on_the_agent(mbr_disk: pathlib.Path) -> None:
    before = disks.digest(mbr_disk, [(0, DISK_SIZE)])
    with pytest.raises(InvalidConfigDrive, match="built into one by the conductor"):
        write_config_drive(str(mbr_disk), {"meta_data": {}})  # type: ignore[arg-type]
    assert disks.digest(mbr_disk, [(0, DISK_SIZE)]) == before


def test_no_free_space(tmp_path: pathlib.Path, drive: Drive) -> None:
    disk = disks.make_disk(tmp_path / "gpt.img", 16 * MiB, "start=2048, type=linux\n", "gpt")
    with pytest.raises(ConfigDrivePartitionError,
                       match=r"no free space of 1 MiB on .*gpt.img for the config drive"):
        write_config_drive(str(disk), drive.encoded)


def test_disk_without_partition_table(tmp_path: pathlib.Path, drive: Drive) -> None:
    disk = tmp_path / "blank.img"
    with open(disk, "wb") as blank:
        blank.truncate(64 * MiB)
    with pytest.raises(ConfigDrivePartitionError,
                       match=r"could not read the partition table of .*blank.img: sfdisk:"):
        write_config_drive(str(disk), drive.encoded)
    assert disk.read_bytes() == bytes(64 * MiB)


def test_mbr_disk_over_2_tib(tmp_path: pathlib.Path, drive: Drive) -> None:
    disk = disks.make_disk(tmp_path / "big.img", 3 * 1024**4,
                           "start=2048, size=100MiB, type=83\n", "dos")
    result = write_config_drive(str(disk), drive.encoded)
    # MBR sector numbers are 32-bit: the partition ends in the last MiB it can reach.
    mbr_limit = (2**32 - 1) * 512
    assert mbr_limit - MiB - result.size < result.offset
    assert result.offset + result.size <= mbr_limit
    assert result.offset % MiB == 0
    assert_drive_on_disk(disk, result, drive)


@pytest.fixture(params=[512, 4096], ids=["512-byte-sectors", "4Kn"])
def loop_device(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Iterator[str]:
    """A loop device over a 128 MiB file with a GPT made through the device."""
    losetup = shutil.which("losetup", path=disks.SBIN)
    if losetup is None:
        pytest.skip("losetup is not installed")
    image = tmp_path / "loop.img"
    with open(image, "wb") as file:
        file.truncate(128 * MiB)
    attached = subprocess.run([losetup, "--find", "--show", "--sector-size",
                               str(request.param), str(image)],
                              capture_output=True, text=True, check=False)
    if attached.returncode != 0:
        pytest.skip(f"no loop device here: {attached.stderr.strip()}")
    device = attached.stdout.strip()
    try:
        disks.sfdisk(device, "--label", "gpt", script="start=1MiB, size=64MiB, type=linux\n")
        yield device
    finally:
        subprocess.run([losetup, "--detach", device], check=True)


def test_block_device(loop_device: str, drive: Drive) -> None:
    result = write_config_drive(loop_device, drive.encoded)
    assert (result.table, result.created, result.number) == ("gpt", True, 2)
    assert result.offset % MiB == 0 and result.size == mib_up(len(drive.iso))
    assert_drive_on_disk(loop_device, result, drive)
    again = write_config_drive(loop_device, drive.encoded)
    assert (again.created, again.offset) == (False, result.offset)
