"""cpio archives in the "newc" format the kernel unpacks as its initramfs.

Written in Python so that no root-only mknod or cpio tool is needed, and so that every
entry has owner root, mtime 0 and inode numbers in order: the same inputs give the same
bytes.
"""

from __future__ import annotations

from typing import BinaryIO

_HEADER = 110


class CpioWriter:
    """Appends entries to a binary stream; call ``finish`` once at the end."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.inode = 1
        self.written = 0

    def _write(self, data: bytes) -> None:
        self.out.write(data)
        self.written += len(data)

    def _entry(self, name: str, mode: int, data: bytes = b"",
               rdev: tuple[int, int] = (0, 0), nlink: int = 1) -> None:
        encoded = name.encode() + b"\0"
        fields = (self.inode, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1],
                  len(encoded), 0)
        self.inode += 1
        self._write(b"070701" + b"".join(b"%08X" % value for value in fields))
        self._write(encoded + b"\0" * (-(_HEADER + len(encoded)) % 4))
        self._write(data + b"\0" * (-len(data) % 4))

    def directory(self, name: str, mode: int = 0o755) -> None:
        self._entry(name, 0o040000 | mode, nlink=2)

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self._entry(name, 0o100000 | mode, data)

    def symlink(self, name: str, target: str) -> None:
        self._entry(name, 0o120777, target.encode())

    def char_device(self, name: str, major: int, minor: int, mode: int = 0o600) -> None:
        self._entry(name, 0o020000 | mode, rdev=(major, minor))

    def block_device(self, name: str, major: int, minor: int, mode: int = 0o600) -> None:
        self._entry(name, 0o060000 | mode, rdev=(major, minor))

    def finish(self) -> None:
        self._entry("TRAILER!!!", 0)
