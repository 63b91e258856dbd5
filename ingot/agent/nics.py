"""The machine's network cards as /sys/class/net shows them: the MACs the agent looks
itself up by, and the address it advertises."""

from __future__ import annotations

import dataclasses
import fcntl
import pathlib
import socket
import struct

_SIOCGIFADDR = 0x8915


@dataclasses.dataclass(frozen=True)
class Nic:
    name: str
    mac: str


def physical_nics(root: pathlib.Path = pathlib.Path("/sys/class/net")) -> list[Nic]:
    """Interfaces backed by a device (not lo, bridges, veths...), by name."""
    found = []
    for path in sorted(root.iterdir()) if root.is_dir() else []:
        if not (path / "device").exists():
            continue
        mac = (path / "address").read_text().strip().lower()
        if mac and mac != "00:00:00:00:00:00":
            found.append(Nic(path.name, mac))
    return found


def ipv4_address(name: str) -> str | None:
    """The interface's IPv4 address, or None when it has none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            answer = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR,
                                 struct.pack("256s", name.encode()[:15]))
        except OSError:
            return None
    return socket.inet_ntoa(answer[20:24])
