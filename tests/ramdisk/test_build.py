"""``ingot ramdisk build`` through its command line: the files, their size limits, the
ISO's boot entries for BIOS and UEFI, and the cache. The first run on a machine builds
the Debian base (a few minutes); later runs reuse it (tests/deploy/test_qemu_ramdisk.py
boots what it makes)."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import pytest

from tests.servers.process import unavailable

pytestmark = pytest.mark.slow


def test_build_outputs_and_cache(tmp_path: pathlib.Path) -> None:
    for tool in ("mmdebstrap", "zstd", "grub-mkrescue", "xorriso", "mformat"):
        if shutil.which(tool) is None:
            unavailable(f"{tool} is needed to build the ramdisk (see tools/test)")
    command = [sys.executable, "-m", "ingot", "ramdisk", "build", "--output", str(tmp_path),
               "--iso-append", "ipa-api-url=http://192.0.2.1:6385 console=ttyS0"]
    first = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stderr
    assert "ramdisk: done in" in first.stdout
    kernel, initramfs = tmp_path / "vmlinuz", tmp_path / "initramfs"
    iso = tmp_path / "ingot-ramdisk.iso"
    assert kernel.read_bytes()[0x202:0x206] == b"HdrS"  # a bzImage
    assert 10 << 20 < initramfs.stat().st_size < 100 << 20
    report = subprocess.run(["xorriso", "-indev", str(iso), "-report_el_torito", "plain"],
                            capture_output=True, text=True, timeout=60, check=True).stdout
    assert any("BIOS" in line and "boot img" in line for line in report.splitlines())
    assert any("UEFI" in line and "boot img" in line for line in report.splitlines())
    # The second build reuses everything and gives the same bytes.
    again = tmp_path / "again"
    second = subprocess.run([*command[:6], str(again), *command[7:]], capture_output=True,
                            text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert "reusing the cached base layer" in second.stdout
    assert "making the bootable ISO" not in second.stdout
    assert (again / "initramfs").read_bytes() == initramfs.read_bytes()


def test_bad_build_input_is_one_line(tmp_path: pathlib.Path) -> None:
    done = subprocess.run([sys.executable, "-m", "ingot", "ramdisk", "build", "--output",
                           str(tmp_path), "--bogus"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert "unrecognized arguments: --bogus" in done.stderr
