"""The initramfs writers: cpio archives busybox's cpio reads back, modules in load order."""

from __future__ import annotations

import gzip
import io
import pathlib
import shutil
import subprocess

import pytest

from ingot.ramdisk import pack, prune
from ingot.ramdisk.cpio import CpioWriter


def _busybox() -> str:
    path = shutil.which("busybox")
    if path is None:
        pytest.fail("busybox (Debian busybox-static, installed by tools/test) is missing")
    return path


def test_cpio_archive_reads_back(tmp_path: pathlib.Path) -> None:
    buffer = io.BytesIO()
    archive = CpioWriter(buffer)
    archive.directory("etc")
    archive.file("etc/hello", b"hello world\n")
    archive.file("init", b"#!/bin/sh\n", 0o755)
    archive.symlink("etc/link", "hello")
    archive.finish()
    listing = subprocess.run([_busybox(), "cpio", "-t"], input=buffer.getvalue(),
                             capture_output=True, check=True).stdout.decode().split()
    assert listing == ["etc", "etc/hello", "init", "etc/link"]
    subprocess.run([_busybox(), "cpio", "-i", "-d"], input=buffer.getvalue(), cwd=tmp_path,
                   capture_output=True, check=True)
    assert (tmp_path / "etc" / "hello").read_bytes() == b"hello world\n"
    assert (tmp_path / "init").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "etc" / "link").readlink() == pathlib.Path("hello")


def test_ingot_layer_is_reproducible_and_holds_init() -> None:
    files = [("ingot/__init__.py", b""), ("ingot/agent/x.py", b"X = 1\n")]
    layer = pack.ingot_layer(files)
    assert layer == pack.ingot_layer(files)
    listing = subprocess.run([_busybox(), "cpio", "-t"], input=gzip.decompress(layer),
                             capture_output=True, check=True).stdout.decode().split()
    assert "init" in listing
    assert "usr/lib/python3/dist-packages/ingot/agent/x.py" in listing
    # Parent directories come before their files: the kernel does not create them.
    assert listing.index("usr/lib/python3/dist-packages/ingot/agent") \
        < listing.index("usr/lib/python3/dist-packages/ingot/agent/x.py")


@pytest.mark.parametrize(("path", "kept"), [
    ("usr/bin/python3.11", True),
    ("usr/lib/python3.11/asyncio/events.py", True),
    ("usr/lib/python3.11/unittest/mock.py", True),
    ("usr/share/doc/bash/copyright", False),
    ("usr/share/locale/de/LC_MESSAGES/x.mo", False),
    ("usr/lib/python3.11/test/test_os.py", False),
    ("usr/lib/python3.11/__pycache__/os.cpython-311.pyc", False),
    ("usr/local/lib/python3.11/dist-packages/httpx/x.pyc", False),
    ("usr/bin/perl5.36.0", False),
    ("usr/lib/x86_64-linux-gnu/perl-base/strict.pm", False),
])
def test_prune(path: str, kept: bool) -> None:
    assert prune.keep(path) is kept


def test_cache_keeps_the_most_recently_used_entries(tmp_path: pathlib.Path) -> None:
    import os  # noqa: PLC0415

    from ingot.ramdisk import cache  # noqa: PLC0415

    for age, name in enumerate(("ramdisk-new", "ramdisk-mid", "ramdisk-old", "base-x")):
        (tmp_path / name).mkdir()
        os.utime(tmp_path / name, (1000 - age, 1000 - age))
    removed = cache.prune(tmp_path, "ramdisk-", keep=2)
    assert removed == [tmp_path / "ramdisk-old"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base-x", "ramdisk-mid",
                                                          "ramdisk-new"]
