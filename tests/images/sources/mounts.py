"""A second filesystem for tests of hard links vs copies: a tmpfs mounted for the test
(root), else /dev/shm when it is another filesystem; otherwise the test is skipped."""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator

import pytest


def _mount_tmpfs(path: pathlib.Path) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m,mode=0755", "tmpfs",
                             str(path)], capture_output=True, text=True, timeout=30,
                            check=False)
    return result.returncode == 0


@contextlib.contextmanager
def other_filesystem(base: pathlib.Path) -> Iterator[pathlib.Path]:
    """A directory on a filesystem other than ``base``'s."""
    mount_point = base / "other-fs"
    mount_point.mkdir(parents=True, exist_ok=True)
    if _mount_tmpfs(mount_point):
        try:
            yield mount_point
        finally:
            subprocess.run(["umount", "-l", str(mount_point)], capture_output=True,
                           timeout=30, check=False)
        return
    shm = pathlib.Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and shm.stat().st_dev != base.stat().st_dev:
        directory = pathlib.Path(tempfile.mkdtemp(prefix="ingot-test-", dir=shm))
        try:
            yield directory
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        return
    pytest.skip("no second filesystem here: cannot mount a tmpfs (needs root) and "
                "/dev/shm is missing or on the same filesystem as the test directory")
