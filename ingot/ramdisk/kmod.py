"""Kernel modules a machine needs, with their dependencies, in load order.

A Debian kernel package has no modules.dep (depmod makes it at install time), so the
dependencies are read from each module's ``.modinfo`` section.
"""

from __future__ import annotations

import gzip
import lzma
import pathlib
import struct


def modinfo(module: bytes) -> dict[str, str]:
    """The key=value strings of an ELF64 module's .modinfo section."""
    if module[:4] != b"\x7fELF" or module[4] != 2:
        raise ValueError("not an ELF64 kernel module")
    shoff, = struct.unpack_from("<Q", module, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", module, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", module, shoff + i * shentsize)
                for i in range(shnum)]
    names_offset = sections[shstrndx][4]
    info: dict[str, str] = {}
    for name, _type, _flags, _addr, offset, size, *_ in sections:
        end = module.index(b"\0", names_offset + name)
        if module[names_offset + name:end] != b".modinfo":
            continue
        for entry in module[offset:offset + size].split(b"\0"):
            key, sep, value = entry.decode("ascii", "replace").partition("=")
            if sep:
                info.setdefault(key, value)
    return info


def read_module(path: pathlib.Path) -> bytes:
    """A module's ELF bytes; busybox insmod cannot load compressed ones."""
    data = path.read_bytes()
    if path.name.endswith(".xz"):
        return lzma.decompress(data)
    if path.name.endswith(".gz"):
        return gzip.decompress(data)
    if path.name.endswith(".zst"):
        raise ValueError(f"{path}: zstd-compressed modules are not supported")
    return data


def module_name(path: pathlib.Path) -> str:
    return path.name.split(".ko")[0].replace("-", "_")


def closure(modules_dir: pathlib.Path, wanted: tuple[str, ...]) -> list[tuple[str, bytes]]:
    """``(file name, bytes)`` of the wanted modules and their dependencies, dependencies
    first. A wanted name the tree lacks is built into the kernel and skipped."""
    paths = {module_name(p): p for p in sorted(modules_dir.rglob("*.ko*"))}
    ordered: list[tuple[str, bytes]] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen or name not in paths:
            return
        seen.add(name)
        data = read_module(paths[name])
        for dependency in filter(None, modinfo(data).get("depends", "").split(",")):
            visit(dependency.replace("-", "_"))
        ordered.append((f"{name}.ko", data))

    for name in wanted:
        visit(name.replace("-", "_"))
    return ordered
