"""Format safety: oslo.utils' inspector on stream heads and files, and permitted formats."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

import pytest

from ingot.images.formats import ImageFormatError, check_stream_head, inspect_file
from tests.servers.process import unavailable

MiB = 1 << 20
SBIN = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


def tool(name: str, package: str) -> str:
    path = shutil.which(name, path=SBIN)
    if path is None:
        unavailable(f"{name} is not installed (Debian package {package})")
    assert path is not None
    return path


def created(tmp_path: pathlib.Path, name: str, *args: str, size: str = "16M"
            ) -> pathlib.Path:
    path = tmp_path / name
    subprocess.run([tool("qemu-img", "qemu-utils"), "create", *args, str(path), size],
                   check=True, capture_output=True)
    return path


def test_stream_head_of_raw_and_gpt_disks_passes(tmp_path: pathlib.Path) -> None:
    assert check_stream_head(os.urandom(MiB), "raw") == "raw"
    disk = tmp_path / "gpt.img"
    with open(disk, "wb") as f:
        f.truncate(8 * MiB)
    subprocess.run([tool("sfdisk", "fdisk"), "-q", "--label", "gpt", str(disk)],
                   input="2048,4096\n", text=True, check=True, capture_output=True)
    assert check_stream_head(disk.read_bytes()[:MiB], "raw") == "gpt"


@pytest.mark.parametrize("fmt", ["qcow2", "vmdk", "vdi", "vhdx"])
def test_stream_head_of_a_virtual_disk_declared_raw_is_refused(tmp_path: pathlib.Path,
                                                               fmt: str) -> None:
    image = created(tmp_path, f"x.{fmt}", "-f", fmt)
    with pytest.raises(ImageFormatError, match=f"disk_format is 'raw' but its content is "
                                               f"'{fmt}'"):
        check_stream_head(image.read_bytes()[:MiB], "raw")


def test_permitted_formats_and_data_files(tmp_path: pathlib.Path) -> None:
    vmdk = created(tmp_path, "x.vmdk", "-f", "vmdk")
    with pytest.raises(ImageFormatError, match="'vmdk' is not permitted"):
        inspect_file(str(vmdk), "vmdk")
    assert inspect_file(str(vmdk), "vmdk", permitted=("raw", "vmdk")).format == "vmdk"
    data_file = created(tmp_path, "external.qcow2", "-f", "qcow2", "-o",
                        f"data_file={tmp_path / 'host-file'}")
    with pytest.raises(ImageFormatError, match="data_file"):
        inspect_file(str(data_file), "qcow2")
    plain = created(tmp_path, "plain.qcow2", "-f", "qcow2")
    inspected = inspect_file(str(plain), "qcow2")
    assert (inspected.format, inspected.virtual_size) == ("qcow2", 16 * MiB)
