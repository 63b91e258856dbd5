"""The hardware inventory the agent posts when it is booted to inspect
(``ipa-inspection-callback-url``), in ironic-python-agent's shape: cpu, memory, disks,
interfaces with their MACs and addresses, boot mode, system vendor.

Read from /proc and /sys, as the machine shows itself. An agent given its target disk
and MACs on the command line (a local-vm node, whose "machine" is a disk file) reports
those instead of the host's disks and NICs.
"""

from __future__ import annotations

import os
import pathlib
import platform
import socket
import time
from collections.abc import Sequence
from typing import Any

import httpx

from ingot.agent import disks, nics

_DMI = pathlib.Path("/sys/class/dmi/id")


class InspectionPostFailed(RuntimeError):
    """The inventory could not be posted; the message says why."""


def _read(path: pathlib.Path) -> str:
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return ""


def cpu(proc: pathlib.Path = pathlib.Path("/proc")) -> dict[str, Any]:
    model = ""
    flags: list[str] = []
    for line in _read(proc / "cpuinfo").splitlines():
        key, _sep, value = line.partition(":")
        if key.strip() == "model name" and not model:
            model = value.strip()
        elif key.strip() == "flags" and not flags:
            flags = value.split()
    return {"count": os.cpu_count() or 1, "architecture": platform.machine() or "unknown",
            "model_name": model, "flags": flags}


def memory(proc: pathlib.Path = pathlib.Path("/proc")) -> dict[str, Any]:
    total_kib = 0
    for line in _read(proc / "meminfo").splitlines():
        if line.startswith("MemTotal:"):
            total_kib = int(line.split()[1])
    total = total_kib * 1024
    # What the firmware gave the kernel, less the kernel's reservations: rounded up to
    # the next 128 MiB it is the installed memory (IPA reads it from DMI instead).
    step = 128 << 20
    physical_mb = ((total + step - 1) // step * step) >> 20
    return {"total": total, "physical_mb": physical_mb}


def _disk_view(disk: disks.Disk) -> dict[str, Any]:
    return {"name": disk.name, "size": disk.size, "model": disk.model,
            "vendor": disk.vendor, "serial": disk.serial, "wwn": disk.wwn,
            "rotational": disk.rotational, "hctl": disk.hctl, "by_path": disk.by_path}


def collect(*, target: str | None = None, macs: Sequence[str] = (),
            bootif: str | None = None) -> dict[str, Any]:
    """The inventory. target/macs: the machine is that disk (file) and those NICs."""
    if target is not None:
        size = pathlib.Path(target).stat().st_size
        found_disks = [_disk_view(disks.Disk(name=target, size=size, model="disk file",
                                             rotational=False))]
    else:
        found_disks = [_disk_view(disk) for disk in disks.list_disks()]
    if macs:
        interfaces = [{"name": f"eth{index}", "mac_address": mac, "ipv4_address": None,
                       "has_carrier": True} for index, mac in enumerate(macs)]
    else:
        interfaces = [{"name": nic.name, "mac_address": nic.mac,
                       "ipv4_address": nics.ipv4_address(nic.name),
                       "has_carrier": _read(pathlib.Path("/sys/class/net") / nic.name /
                                            "carrier") == "1"}
                      for nic in nics.physical_nics()]
    return {
        "interfaces": interfaces,
        "cpu": cpu(),
        "memory": memory(),
        "disks": found_disks,
        "boot": {"current_boot_mode": "uefi" if pathlib.Path("/sys/firmware/efi").is_dir()
                 else "bios", "pxe_interface": bootif},
        "system_vendor": {"product_name": _read(_DMI / "product_name"),
                          "serial_number": _read(_DMI / "product_serial"),
                          "manufacturer": _read(_DMI / "sys_vendor")},
        "hostname": socket.gethostname(),
    }


def post(url: str, inventory: dict[str, Any], *, agent_token: str | None = None,
         timeout: float = 60.0, attempts: int = 5, delay: float = 2.0) -> str:
    """Post the inventory as IPA does (plugin data beside it, retrying connection
    errors and 5xx answers); the node's UUID."""
    body: dict[str, Any] = {"inventory": inventory, "boot_interface":
                            inventory["boot"]["pxe_interface"],
                            "configuration": {"collectors": ["default"],
                                              "managers": [{"name": "ingot",
                                                            "version": "1"}]},
                            "error": None}
    if agent_token:
        body["agent_token"] = agent_token
    problem = "not attempted"
    for attempt in range(attempts):
        if attempt:
            time.sleep(delay * attempt)
        try:
            response = httpx.post(url, json=body, timeout=timeout, trust_env=False)
        except httpx.HTTPError as exc:
            problem = f"{type(exc).__name__}: {exc}"
            continue
        if response.status_code < 500:
            break
        problem = f"HTTP {response.status_code}: {response.text[:300]}"
    else:
        raise InspectionPostFailed(f"posting the inventory to {url} failed {attempts} "
                                   f"times: {problem}")
    if response.status_code != 202:
        raise InspectionPostFailed(f"posting the inventory to {url}: HTTP "
                                   f"{response.status_code}: {response.text[:300]}")
    uuid = response.json().get("uuid")
    if not isinstance(uuid, str):
        raise InspectionPostFailed(f"{url} answered without the node's UUID")
    return uuid
