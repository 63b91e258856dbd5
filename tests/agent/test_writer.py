"""Writing images onto targets: raw streaming, qcow2 conversion, format safety, erase."""

from __future__ import annotations

import hashlib
import os
import pathlib
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from ingot.agent.download import RetryPolicy, Timeouts
from ingot.agent.writer import (
    ImageDownload,
    TargetWriteError,
    WriteOptions,
    erase_metadata,
    write_image,
)
from ingot.images.checksum import ChecksumMismatch, ExpectedDigest
from ingot.images.formats import ImageFormatError
from tests.servers.origin import Origin
from tests.servers.process import unavailable

MiB = 1 << 20
OPTIONS = WriteOptions(retry=RetryPolicy(attempts=2, initial_delay=0.01),
                       timeouts=Timeouts(connect=5, read=10))
SBIN = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


def qemu_img() -> str:
    path = shutil.which("qemu-img", path=SBIN)
    if path is None:
        unavailable("qemu-img is not installed (Debian package qemu-utils)")
    assert path is not None
    return path


def sha256(data: bytes) -> ExpectedDigest:
    return ExpectedDigest("sha256", hashlib.sha256(data).hexdigest(), "test")


def disk_bytes(size: int = 5 * MiB + 123) -> bytes:
    """Random data with a zero hole in the middle (so qcow2 has unallocated clusters)."""
    data = bytearray(os.urandom(size))
    data[MiB:3 * MiB] = bytes(2 * MiB)
    return bytes(data)


def make_qcow2(tmp_path: pathlib.Path, raw: bytes, *extra: str) -> bytes:
    source = tmp_path / "source.raw"
    source.write_bytes(raw)
    image = tmp_path / "image.qcow2"
    subprocess.run([qemu_img(), "convert", "-f", "raw", "-O", "qcow2", *extra, str(source),
                    str(image)], check=True, capture_output=True)
    return image.read_bytes()


def leftovers(directory: pathlib.Path) -> list[str]:
    return [name for name in os.listdir(directory) if name.startswith(".ingot-image-")]


def test_raw_image_streams_onto_a_file(origin: Origin, tmp_path: pathlib.Path) -> None:
    image = disk_bytes()
    target = tmp_path / "disk.img"
    target.write_bytes(b"\xff" * (8 * MiB))  # an existing, larger disk
    url = origin.add("/disk.raw", image)
    digest = sha256(image)
    upper = ExpectedDigest("sha256", digest.value.upper(), "test")
    result = write_image(str(target), ImageDownload([url], upper), OPTIONS)
    written = target.read_bytes()
    assert written[:len(image)] == image
    assert written[len(image):] == b"\xff" * (8 * MiB - len(image))  # rest untouched
    assert (result.streamed, result.image_bytes, result.digest) == (True, len(image),
                                                                    digest.value)
    assert result.direct_io  # ext4 takes O_DIRECT; the unaligned tail went buffered


def test_raw_image_creates_a_missing_file_target(origin: Origin,
                                                 tmp_path: pathlib.Path) -> None:
    image = os.urandom(MiB + 7)
    target = tmp_path / "new.img"
    write_image(str(target), ImageDownload([origin.add("/d", image)], sha256(image)), OPTIONS)
    assert target.read_bytes() == image


def test_checksum_mismatch_fails_and_leaves_no_bootable_half(
        origin: Origin, tmp_path: pathlib.Path) -> None:
    image = disk_bytes()
    target = tmp_path / "disk.img"
    wrong = ExpectedDigest("sha256", "0" * 64, "os_hash_value")
    with pytest.raises(ChecksumMismatch) as caught:
        write_image(str(target), ImageDownload([origin.add("/d.raw", image)], wrong), OPTIONS)
    message = str(caught.value)
    assert "Checksum mismatch" in message
    assert "0" * 64 in message and hashlib.sha256(image).hexdigest() in message
    assert target.read_bytes()[:MiB] == bytes(MiB)  # metadata erased after the failure


def test_raw_declared_but_qcow2_content_is_rejected_before_writing(
        origin: Origin, tmp_path: pathlib.Path) -> None:
    qcow2 = make_qcow2(tmp_path, disk_bytes())
    target = tmp_path / "disk.img"
    before = os.urandom(2 * MiB)
    target.write_bytes(before)
    with pytest.raises(ImageFormatError, match="disk_format is 'raw' but its content is "
                                               "'qcow2'"):
        write_image(str(target), ImageDownload([origin.add("/x.img", qcow2)], sha256(qcow2)),
                    OPTIONS)
    assert target.read_bytes() == before


def test_qcow2_is_verified_inspected_and_converted(origin: Origin,
                                                  tmp_path: pathlib.Path) -> None:
    raw = disk_bytes()
    qcow2 = make_qcow2(tmp_path, raw)
    target = tmp_path / "disks" / "disk.img"
    target.parent.mkdir()
    target.write_bytes(os.urandom(8 * MiB))  # old contents must not shine through holes
    url = origin.add("/image.qcow2", qcow2)
    result = write_image(str(target), ImageDownload([url], sha256(qcow2), "qcow2"), OPTIONS)
    assert target.read_bytes()[:len(raw)] == raw
    assert (result.streamed, result.image_format) == (False, "qcow2")
    assert leftovers(target.parent) == []  # the work file lives next to the target...
    assert target.stat().st_size == 8 * MiB


def test_qcow2_grows_a_smaller_file_target(origin: Origin, tmp_path: pathlib.Path) -> None:
    raw = disk_bytes()
    qcow2 = make_qcow2(tmp_path, raw)
    target = tmp_path / "empty.img"
    target.touch()
    write_image(str(target), ImageDownload([origin.add("/i.qcow2", qcow2)], sha256(qcow2),
                                         "qcow2"), OPTIONS)
    written = target.read_bytes()
    # qemu-img rounds the virtual size up to whole sectors (and O_DIRECT to blocks).
    assert written[:len(raw)] == raw
    assert len(raw) < len(written) <= len(raw) + 4096
    assert written[len(raw):] == bytes(len(written) - len(raw))


def test_qcow2_with_backing_file_is_rejected_and_target_untouched(
        origin: Origin, tmp_path: pathlib.Path) -> None:
    secret = tmp_path / "host-secret.raw"
    secret.write_bytes(b"host data " * 100_000)
    hostile = tmp_path / "hostile.qcow2"
    subprocess.run([qemu_img(), "create", "-f", "qcow2", "-b", str(secret), "-F", "raw",
                    str(hostile)], check=True, capture_output=True)
    data = hostile.read_bytes()
    target = tmp_path / "target" / "disk.img"
    target.parent.mkdir()
    before = os.urandom(3 * MiB)
    target.write_bytes(before)
    with pytest.raises(ImageFormatError, match="backing_file"):
        write_image(str(target), ImageDownload([origin.add("/h.qcow2", data)], sha256(data),
                                             "qcow2"), OPTIONS)
    assert target.read_bytes() == before
    assert leftovers(target.parent) == []


def test_qcow2_declared_but_raw_content_is_rejected(origin: Origin,
                                                   tmp_path: pathlib.Path) -> None:
    raw = disk_bytes()
    target = tmp_path / "disk.img"
    target.write_bytes(b"old")
    with pytest.raises(ImageFormatError, match="disk_format is 'qcow2' but its content is "
                                               "'raw'"):
        write_image(str(target), ImageDownload([origin.add("/r", raw)], sha256(raw), "qcow2"),
                    OPTIONS)
    assert target.read_bytes() == b"old"


def test_raw_without_streaming_goes_through_the_work_dir(origin: Origin,
                                                       tmp_path: pathlib.Path) -> None:
    qemu_img()
    raw = disk_bytes()
    work = tmp_path / "work"
    work.mkdir()
    target = tmp_path / "disk.img"
    target.write_bytes(bytes(len(raw)))
    options = WriteOptions(stream_raw=False, work_dir=str(work), retry=OPTIONS.retry,
                           timeouts=OPTIONS.timeouts)
    result = write_image(str(target), ImageDownload([origin.add("/r", raw)], sha256(raw)),
                         options)
    assert target.read_bytes()[:len(raw)] == raw
    assert not result.streamed
    assert os.listdir(work) == []


def sfdisk_table(path: pathlib.Path) -> subprocess.CompletedProcess[str]:
    sfdisk = shutil.which("sfdisk", path=SBIN)
    if sfdisk is None:
        unavailable("sfdisk is not installed (Debian package fdisk)")
    assert sfdisk is not None
    return subprocess.run([sfdisk, "--json", str(path)], capture_output=True, text=True,
                          check=False)


def test_erase_metadata_wipes_gpt_at_both_ends(tmp_path: pathlib.Path) -> None:
    disk = tmp_path / "gpt.img"
    size = 16 * MiB
    with open(disk, "wb") as f:
        f.truncate(size)
    sfdisk = shutil.which("sfdisk", path=SBIN)
    if sfdisk is None:
        unavailable("sfdisk is not installed (Debian package fdisk)")
    subprocess.run([str(sfdisk), "-q", "--label", "gpt", str(disk)], input="2048,8192\n,\n",
                   text=True, check=True, capture_output=True)
    data = disk.read_bytes()
    assert data[512:520] == b"EFI PART" and data[size - 512:size - 504] == b"EFI PART"
    assert sfdisk_table(disk).returncode == 0
    middle = os.urandom(MiB)
    with open(disk, "r+b") as f:
        f.seek(4 * MiB)
        f.write(middle)

    result = erase_metadata(str(disk))

    data = disk.read_bytes()
    assert data[:MiB] == bytes(MiB) and data[-MiB:] == bytes(MiB)
    assert data[4 * MiB:5 * MiB] == middle  # only metadata areas are touched
    assert result.zeroed == ((0, MiB), (size - MiB, MiB))
    assert sfdisk_table(disk).returncode != 0  # no partition table left


@pytest.fixture
def loop_device(tmp_path: pathlib.Path) -> Iterator[str]:
    losetup = shutil.which("losetup", path=SBIN)
    backing = tmp_path / "loop.img"
    with open(backing, "wb") as f:
        f.truncate(8 * MiB)
    if losetup is None:
        unavailable("losetup is not available")
    assert losetup is not None
    attached = subprocess.run([losetup, "--find", "--show", str(backing)],
                              capture_output=True, text=True, check=False)
    if attached.returncode != 0:
        unavailable(f"cannot attach a loop device: {attached.stderr.strip()}")
    device = attached.stdout.strip()
    try:
        yield device
    finally:
        subprocess.run([losetup, "--detach", device], check=False, timeout=30)


def test_block_device_target_streams_and_refuses_oversized_images(
        origin: Origin, loop_device: str) -> None:
    image = disk_bytes()
    write_image(loop_device, ImageDownload([origin.add("/d", image)], sha256(image)), OPTIONS)
    with open(loop_device, "rb") as device:
        assert device.read(len(image)) == image
    too_big = os.urandom(9 * MiB)
    with pytest.raises(TargetWriteError, match="larger than the target"):
        write_image(loop_device, ImageDownload([origin.add("/big", too_big)], sha256(too_big)),
                    OPTIONS)
    with open(loop_device, "rb") as device:
        assert device.read(len(image)) == image  # refused before writing
    erase_metadata(loop_device)
    with open(loop_device, "rb") as device:
        assert device.read(MiB) == bytes(MiB)
