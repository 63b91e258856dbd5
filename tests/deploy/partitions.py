"""Looking at a deployed partition image's disk file from the host."""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
from typing import Any

from tests.servers.process import unavailable

MIB = 1 << 20


def tool(name: str) -> str:
    found = shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")
    if found is None:
        unavailable(f"{name} is not installed")
    assert found is not None
    return found


def root_image(path: pathlib.Path, marker: str) -> bytes:
    tree = path.with_suffix(".tree")
    (tree / "etc").mkdir(parents=True)
    (tree / "etc" / "marker").write_text(marker)
    subprocess.run([tool("mkfs.ext4"), "-q", "-F", "-d", str(tree), "-L", "root",
                    str(path), "8M"], check=True, capture_output=True, timeout=60)
    return path.read_bytes()


def partitions(disk: pathlib.Path) -> list[dict[str, Any]]:
    out = subprocess.run([tool("sfdisk"), "--json", str(disk)], check=True,
                         capture_output=True, text=True, timeout=30).stdout
    return list(json.loads(out)["partitiontable"]["partitions"])


def probe(disk: pathlib.Path, part: dict[str, Any]) -> dict[str, str]:
    """blkid's view of one partition of a disk image file."""
    done = subprocess.run([tool("blkid"), "-p", "-o", "export", "-O",
                           str(part["start"] * 512), "-S", str(part["size"] * 512),
                           str(disk)], capture_output=True, text=True, timeout=30)
    return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)


def partition_file(disk: pathlib.Path, part: dict[str, Any], name: str,
                   write: str | None = None) -> str:
    """Read (or first write) a file of an ext4 partition, through a loop device."""
    loop = subprocess.run([tool("losetup"), "--find", "--show", "--offset",
                           str(part["start"] * 512), "--sizelimit", str(part["size"] * 512),
                           str(disk)], check=True, capture_output=True, text=True,
                          timeout=30).stdout.strip()
    try:
        if write is not None:
            source = disk.with_suffix(".kept")
            source.write_text(write)
            subprocess.run([tool("debugfs"), "-w", "-R", f"write {source} {name}", loop],
                           check=True, capture_output=True, timeout=30)
        return subprocess.run([tool("debugfs"), "-R", f"cat {name}", loop], check=True,
                              capture_output=True, text=True, timeout=30).stdout
    finally:
        subprocess.run([tool("losetup"), "--detach", loop], check=False, timeout=30)
