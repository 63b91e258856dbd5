"""Putting files in place so that a web server never serves half of one.

Everything is written under a temporary name in the target directory and renamed over
the target: a reader sees the old file or the new one. Not fsynced: a boot config is
re-rendered by the conductor whenever it is needed, so durability across a host crash
is not worth a disk flush per node.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import pathlib
import secrets
import shutil
import tempfile
from typing import Literal

PlaceMethod = Literal["link", "copy", "unchanged"]


@dataclasses.dataclass(frozen=True, slots=True)
class PlacedFile:
    """A boot file put into the HTTP root, and how: hard link, copy, or already there."""

    path: pathlib.Path
    source: pathlib.Path
    method: PlaceMethod


def _temporary(directory: pathlib.Path, name: str) -> pathlib.Path:
    handle, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    os.close(handle)
    return pathlib.Path(temporary)


def write_atomically(path: pathlib.Path, data: bytes, mode: int) -> pathlib.Path:
    temporary = _temporary(path.parent, path.name)
    try:
        temporary.write_bytes(data)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def write_if_changed(path: pathlib.Path, data: bytes, mode: int) -> bool:
    """Write unless the file already holds ``data``; True if it was written."""
    try:
        if path.read_bytes() == data and (path.stat().st_mode & 0o7777) == mode:
            return False
    except FileNotFoundError:
        pass
    write_atomically(path, data, mode)
    return True


def symlink_atomically(path: pathlib.Path, target: str) -> pathlib.Path:
    """Make ``path`` a symlink to ``target``, replacing whatever was there in one step."""
    with contextlib.suppress(OSError):
        if os.readlink(path) == target:
            return path
    # os.symlink refuses an existing name, so a random name cannot clobber anything.
    temporary = path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
    try:
        os.symlink(target, temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def _same_file(a: pathlib.Path, b: pathlib.Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except FileNotFoundError:
        return False


def link_or_copy(source: pathlib.Path, path: pathlib.Path, mode: int) -> PlacedFile:
    """Hard-link ``source`` to ``path``, or copy it when they are on different filesystems.

    Ironic only copies on a cache hit and fails a first download across filesystems;
    here both cases behave the same. A hard link shares the cache file's permissions
    (changing them would change the cache's), so ``mode`` applies to copies only.
    """
    if _same_file(source, path):
        return PlacedFile(path, source, "unchanged")
    stat = source.stat()  # raises FileNotFoundError for a missing cache entry
    temporary = _temporary(path.parent, path.name)
    try:
        method: PlaceMethod = "copy"
        if stat.st_dev == path.parent.stat().st_dev:
            temporary.unlink()
            try:
                os.link(source, temporary)
                method = "link"
            except OSError as exc:
                # Same st_dev can still be two mounts (bind mounts: EXDEV), and
                # protected_hardlinks refuses links to files of other users (EPERM).
                if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
                    raise
        if method == "copy":
            shutil.copyfile(source, temporary)
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    return PlacedFile(path, source, method)
