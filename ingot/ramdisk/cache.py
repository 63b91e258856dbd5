"""Where built pieces are kept: one directory per input key under ~/.cache/ingot/ramdisk
(INGOT_RAMDISK_CACHE moves it), each filled under its own lock and published by rename.

Keys are digests of what goes in (package versions, file contents), never of paths, so
every checkout and virtualenv of the same ingot shares one cache; one lock per entry lets a
build reuse its cached entry while another checkout builds a different one."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import pathlib
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any


def cache_root() -> pathlib.Path:
    configured = os.environ.get("INGOT_RAMDISK_CACHE")
    if configured:
        return pathlib.Path(configured)
    return pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache") \
        / "ingot" / "ramdisk"


def key(inputs: Any) -> str:
    """A short digest of JSON-serialisable inputs."""
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@contextlib.contextmanager
def locked(root: pathlib.Path, name: str = "") -> Iterator[None]:
    """One builder at a time per entry ``name`` (the whole cache without a name, for
    pruning); the others wait, then find the result."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / (f".{name}.lock" if name else ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@contextlib.contextmanager
def entry(root: pathlib.Path, name: str) -> Iterator[tuple[pathlib.Path, bool]]:
    """``(directory, ready)``: a ready directory is used as is; otherwise fill the given
    scratch directory, which becomes the entry only if the block ends without error.

    Each builder has a scratch directory of its own, so builders that do not share a
    lock (an older ingot's) never write into each other's; the first to finish wins."""
    final = root / name
    if final.is_dir():
        yield final, True
        return
    root.mkdir(parents=True, exist_ok=True)
    scratch = pathlib.Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial", dir=root))
    try:
        yield scratch, False
        scratch.chmod(0o755)
        os.rename(scratch, final)
    except OSError:
        if not final.is_dir():
            raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def prune(root: pathlib.Path, prefix: str, keep: int) -> list[pathlib.Path]:
    """Remove all but the ``keep`` most recently used entries named ``prefix*``; call it
    under ``locked``. Returns what was removed."""
    entries = sorted((path for path in root.glob(f"{prefix}*") if path.is_dir()),
                     key=lambda path: path.stat().st_mtime, reverse=True)
    for path in entries[keep:]:
        shutil.rmtree(path, ignore_errors=True)
    return entries[keep:]
