"""qemu-vm: a virtual node that really network boots: a QEMU machine (TCG) with iPXE.

Powering on starts QEMU with user-mode networking whose boot file is this conductor's
``boot.ipxe``, from the network or from the disk file as the boot device says; powering
off stops it. From inside the machine the host's loopback is 10.0.2.2, so set
[deploy] http_url and [conductor] api_url to that address (docs/ipxe.md). The other way,
a port of the host's loopback is forwarded to the agent's (ipa-advertise-host/-port).
"""

from __future__ import annotations

import asyncio
import pathlib
import shutil
import socket
from typing import Any

from ingot.common.power import POWER_OFF, POWER_ON
from ingot.db.models import Node
from ingot.drivers import fake, hardware, node_processes
from ingot.drivers.agent_inspect import AgentInspect
from ingot.drivers.direct import DirectDeploy
from ingot.drivers.interfaces import (
    InvalidParameter,
    ManagementInterface,
    PowerInterface,
    Task,
)
from ingot.drivers.ipxe import IpxeBootInterface, boot_mode
from ingot.drivers.local_vm import disk_path, disk_size_mib, ensure_disk, run_dir
from ingot.drivers.ramdisk_deploy import RamdiskDeploy
from ingot.drivers.settings import DriverSettings

QEMU = "qemu-system-x86_64"
OVMF_CODE = pathlib.Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
OVMF_VARS = pathlib.Path("/usr/share/OVMF/OVMF_VARS_4M.fd")
_BOOT_KEY = "qemu_boot_device"
_AGENT_PORT_KEY = "qemu_agent_port"
AGENT_PORT = 9999  # where ingot's ramdisk agent listens inside the machine


def _option(value: str) -> str:
    # QEMU splits -netdev and -drive options on commas; a literal comma is doubled.
    return value.replace(",", ",,")


def _memory(node: Node) -> int:
    raw = node.driver_info.get("vm_memory", 512)
    try:
        memory = int(raw)
    except (TypeError, ValueError):
        raise InvalidParameter(f"driver_info vm_memory must be MiB, got {raw!r}.") from None
    if memory < 128:
        raise InvalidParameter("driver_info vm_memory must be at least 128 MiB.")
    return memory


def qemu_argv(node: Node, mac: str, boot_device: str, directory: pathlib.Path,
              settings: DriverSettings) -> list[str]:
    disk = disk_path(node, settings)
    boot_script = settings.endpoints.http_url + "/boot.ipxe"
    uefi = boot_mode(node) == "uefi"
    netdev = f"user,id=n0,bootfile={_option(boot_script)}"
    agent_port = node.driver_internal_info.get(_AGENT_PORT_KEY)
    if agent_port:
        # The conductor reaches the agent inside through a port of the host's loopback.
        netdev += f",hostfwd=tcp:127.0.0.1:{int(agent_port)}-:{AGENT_PORT}"
    argv = [shutil.which(QEMU) or QEMU, "-name", f"ingot-{node.uuid}",
            "-machine", "q35,accel=tcg" if uefi else "pc,accel=tcg",
            "-m", str(_memory(node)), "-nographic", "-no-reboot",
            # Appended to: the deploy ramdisk's log stays when the machine reboots.
            "-chardev", f"file,id=serial0,append=on,"
                        f"path={_option(str(directory / (node.uuid + '.serial')))}",
            "-serial", "chardev:serial0", "-monitor", "none",
            "-netdev", netdev,
            "-device", f"virtio-net-pci,netdev=n0,mac={mac}",
            "-drive", f"file={_option(str(disk))},format=raw,if=virtio",
            "-boot", "n" if boot_device == "pxe" else "c"]
    if uefi:
        variables = directory / f"{node.uuid}.OVMF_VARS.fd"
        if not variables.exists():
            shutil.copyfile(OVMF_VARS, variables)  # the firmware writes its variables
        argv += ["-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}",
                 "-drive", f"if=pflash,format=raw,unit=1,file={variables}"]
    return argv


class QemuPower(PowerInterface):
    name = "qemu"
    properties = {
        "vm_disk": "Absolute path of the node's disk image file, inside [local_vm] "
                   "disk_paths; created on first power on if missing. Required.",
        "vm_disk_size": "Size in MiB of the disk file when ingot creates it. Optional.",
        "vm_memory": "Memory of the virtual machine in MiB (default 512). Optional.",
    }

    def validate(self, node: Node, settings: DriverSettings) -> None:
        disk_path(node, settings)
        disk_size_mib(node, settings)
        _memory(node)
        if shutil.which(QEMU) is None:
            raise InvalidParameter(f"{QEMU} is not installed on this host (Debian package "
                                   f"qemu-system-x86).")
        if boot_mode(node) == "uefi" and not OVMF_CODE.exists():
            raise InvalidParameter("UEFI boot needs OVMF (Debian package ovmf).")

    async def get_power_state(self, task: Task) -> str:
        running = node_processes.running_pid(run_dir(task.services.settings), task.node.uuid)
        return POWER_ON if running else POWER_OFF

    async def set_power_state(self, task: Task, state: str) -> None:
        node, settings = task.node, task.services.settings
        await asyncio.to_thread(node_processes.stop, run_dir(settings), node.uuid)
        if state != POWER_ON:
            return
        macs = task.pxe_macs or task.macs
        if not macs:
            raise InvalidParameter(f"Node {node.uuid} needs a port to have a network card.")
        ensure_disk(node, settings)
        directory = run_dir(settings)
        directory.mkdir(parents=True, exist_ok=True)
        argv = qemu_argv(node, macs[0], str(node.driver_internal_info.get(_BOOT_KEY, "pxe")),
                         directory, settings)
        await asyncio.to_thread(node_processes.start, directory, node.uuid, argv)


class QemuManagement(ManagementInterface):
    name = "qemu"

    async def set_boot_device(self, task: Task, device: str, persistent: bool = False) -> None:
        task.set_internal(**self.boot_device_record(task.node, device, persistent))

    # The API's boot device endpoints: the machine's next start reads the recorded one.
    def supported_boot_devices(self, node: Node) -> tuple[str, ...]:
        return ("pxe", "disk")

    def boot_device(self, node: Node) -> dict[str, Any]:
        return {"boot_device": node.driver_internal_info.get(_BOOT_KEY, "pxe"),
                "persistent": True}

    def boot_device_record(self, node: Node, device: str, persistent: bool) -> dict[str, Any]:
        if device not in self.supported_boot_devices(node):
            raise InvalidParameter(f"Invalid boot device {device} specified: qemu-vm nodes "
                                   f"boot from pxe or disk.")
        return {_BOOT_KEY: device}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class QemuIpxeBoot(IpxeBootInterface):
    """iPXE boot that tells the agent the host port forwarded to it, since the machine's
    own address (QEMU's user network) cannot be reached from the host."""

    async def prepare_ramdisk(self, task: Task, params: dict[str, Any]) -> None:
        port = task.node.driver_internal_info.get(_AGENT_PORT_KEY) or _free_port()
        task.set_internal(**{_AGENT_PORT_KEY: port})
        await super().prepare_ramdisk(task, {
            **params, "ipa-advertise-host": "127.0.0.1", "ipa-advertise-port": str(port)})


QEMU_VM = hardware.HardwareType("qemu-vm", hardware.with_no_op({
    "power": (QemuPower,),
    "management": (QemuManagement,),
    "boot": (QemuIpxeBoot,),
    "deploy": (DirectDeploy, RamdiskDeploy, fake.FakeDeploy),
    "inspect": (AgentInspect, fake.NoInspect),
}))
hardware.register(QEMU_VM)
