"""The initramfs in two compressed cpio layers, which the kernel unpacks one after the
other: the base (Debian root, kernel modules, the agent's libraries), cached, and ingot's
own part on top (its package, /init), the only part that changes with ingot's code."""

from __future__ import annotations

import gzip
import importlib.resources
import io
import os
import pathlib
import tarfile
from collections.abc import Iterable

from ingot.ramdisk import prune
from ingot.ramdisk.cpio import CpioWriter
from ingot.ramdisk.debian import BuildError, run
from ingot.ramdisk.python import INGOT_SITE, SITE_PACKAGES

MODULES_DIR = "usr/lib/ingot/modules"
ZSTD_LEVEL = 19


def _resource(name: str) -> bytes:
    return importlib.resources.files("ingot.ramdisk").joinpath(name).read_bytes()


def _parents(path: str, made: set[str], archive: CpioWriter) -> None:
    parts = path.split("/")[:-1]
    for depth in range(1, len(parts) + 1):
        directory = "/".join(parts[:depth])
        if directory not in made:
            made.add(directory)
            archive.directory(directory)


def _root_entries(root: tarfile.TarFile, archive: CpioWriter, made: set[str]) -> None:
    for member in root:
        name = member.name.removeprefix("./").strip("/")
        if not name or not prune.keep(name):
            continue
        mode = member.mode & 0o7777
        if member.isdir():
            if name not in made:
                made.add(name)
                archive.directory(name, mode)
        elif member.issym():
            archive.symlink(name, member.linkname)
        elif member.isfile() or member.islnk():  # hard links become copies
            source = root.extractfile(member)
            if source is None:
                raise BuildError(f"the root archive has no data for {name}")
            archive.file(name, source.read(), mode)
        elif member.ischr():
            archive.char_device(name, member.devmajor, member.devminor, mode)
        elif member.isblk():
            archive.block_device(name, member.devmajor, member.devminor, mode)


def _tree_entries(tree: pathlib.Path, prefix: str, archive: CpioWriter,
                  made: set[str]) -> None:
    for path in sorted(tree.rglob("*")):
        relative = path.relative_to(tree).as_posix()
        name = f"{prefix}/{relative}"
        if not prune.keep(name) or not prune.keep(relative):
            continue
        _parents(name, made, archive)
        if path.is_symlink():
            archive.symlink(name, os.readlink(path))
        elif path.is_dir():
            if name not in made:
                made.add(name)
                archive.directory(name)
        else:
            archive.file(name, path.read_bytes(), 0o755 if os.access(path, os.X_OK)
                         else 0o644)


def base_layer(root_tar: pathlib.Path, modules: Iterable[tuple[str, bytes]],
               site_packages: pathlib.Path, output: pathlib.Path) -> None:
    """Write the base layer, zstd-compressed, to ``output``."""
    raw = output.parent / f"{output.name}.raw"
    made: set[str] = set()
    with open(raw, "wb") as out:
        archive = CpioWriter(out)
        with tarfile.open(root_tar) as root:
            _root_entries(root, archive, made)
        for directory in ("dev", "proc", "sys", "run", "tmp", "root", "var/tmp"):
            _parents(f"{directory}/x", made, archive)
        archive.char_device("dev/console", 5, 1)
        archive.char_device("dev/null", 1, 3, 0o666)
        names = []
        for name, data in modules:
            _parents(f"{MODULES_DIR}/{name}", made, archive)
            archive.file(f"{MODULES_DIR}/{name}", data)
            names.append(name)
        archive.file(f"{MODULES_DIR}/load-order", "".join(f"{n}\n" for n in names).encode())
        _tree_entries(site_packages, SITE_PACKAGES, archive, made)
        archive.finish()
    try:
        run(["zstd", "-q", "-f", f"-{ZSTD_LEVEL}", "-T0", str(raw), "-o", str(output)])
    finally:
        raw.unlink()


def ingot_layer(files: Iterable[tuple[str, bytes]]) -> bytes:
    """ingot's package and /init as a gzip-compressed cpio layer (mtime 0: the same
    files give the same bytes)."""
    buffer = io.BytesIO()
    archive = CpioWriter(buffer)
    made: set[str] = set()
    archive.file("init", _resource("init.sh"), 0o755)
    _parents("usr/lib/ingot/udhcpc.script", made, archive)
    archive.file("usr/lib/ingot/udhcpc.script", _resource("udhcpc.script"), 0o755)
    for name, data in files:
        path = f"{INGOT_SITE}/{name}"
        _parents(path, made, archive)
        archive.file(path, data)
    archive.finish()
    return gzip.compress(buffer.getvalue(), compresslevel=9, mtime=0)
