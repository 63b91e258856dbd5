"""The machine's disks as /sys/block shows them, with the properties Ironic's root
device hints match on."""

from __future__ import annotations

import dataclasses
import os
import pathlib

# Never install onto these: RAM disks, loop devices, CD drives, device-mapper and
# software RAID members, floppies.
_SKIPPED = ("ram", "loop", "sr", "dm-", "md", "fd", "zram", "nbd")


@dataclasses.dataclass(frozen=True)
class Disk:
    name: str  # /dev/vda
    size: int  # bytes
    model: str = ""
    vendor: str = ""
    serial: str = ""
    wwn: str = ""
    rotational: bool = True
    hctl: str = ""
    by_path: str = ""


def _read(path: pathlib.Path) -> str:
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return ""


def _by_path(device: str, dev: pathlib.Path) -> str:
    directory = dev / "disk" / "by-path"
    for link in sorted(directory.iterdir()) if directory.is_dir() else []:
        if os.path.basename(os.readlink(link)) == device:
            return str(link)
    return ""


def list_disks(sys_block: pathlib.Path = pathlib.Path("/sys/block"),
               dev: pathlib.Path = pathlib.Path("/dev")) -> list[Disk]:
    """Whole disks with a size, by name."""
    disks = []
    for path in sorted(sys_block.iterdir()) if sys_block.is_dir() else []:
        name = path.name
        if name.startswith(_SKIPPED) or _read(path / "removable") == "1":
            continue
        sectors = _read(path / "size")
        if not sectors.isdigit() or int(sectors) == 0:
            continue
        device = path / "device"
        hctl = ""
        if (device / "scsi_device").is_dir():
            hctl = next((p.name for p in (device / "scsi_device").iterdir()), "")
        disks.append(Disk(
            name=f"/dev/{name}", size=int(sectors) * 512,
            model=_read(device / "model"), vendor=_read(device / "vendor"),
            serial=_read(path / "serial") or _read(device / "serial"),
            wwn=_read(path / "wwid") or _read(device / "wwid"),
            rotational=_read(path / "queue" / "rotational") != "0",
            hctl=hctl, by_path=_by_path(name, dev)))
    return disks
