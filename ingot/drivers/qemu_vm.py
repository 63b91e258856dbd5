"""qemu-vm: a virtual node that really network boots: a QEMU machine with iPXE, under
TCG or, with [local_vm] qemu_accel = kvm, KVM.

Powering on starts QEMU with user-mode networking whose boot file is this conductor's
``boot.ipxe``, from the network or from the disk file as the boot device says; powering
off stops it. Non-persistent network boot lasts one boot (``-boot once=n``): when the
machine reboots itself, as the agent does on ``standby.run_image``, it starts from its
disk. UEFI machines (OVMF, which ignores -boot) get the order as per-device bootindex
instead, the boot device first: a network boot from inside once the node boots locally
reaches iPXE, whose script exits to the firmware, which then starts the disk. An
optional second disk and second NIC (driver_info vm_disk2, vm_nic2_mac) make room for
root device hints and inspection. From inside the machine the host's loopback is
10.0.2.2, so set [deploy] http_url and [conductor] api_url to that address
(docs/ipxe.md). The other way, a port of the host's loopback is forwarded to the
agent's (ipa-advertise-host/-port).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import pathlib
import re
import shutil
import socket
from typing import Any

from ingot.common.power import POWER_OFF, POWER_ON
from ingot.db.models import Node
from ingot.drivers import fake, hardware, node_processes
from ingot.drivers.agent_inspect import AgentInspect
from ingot.drivers.agent_power import AgentPower
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
KVM_DEVICE = "/dev/kvm"
_BOOT_KEY = "qemu_boot_device"
_PERSISTENT_KEY = "qemu_boot_persistent"
_AGENT_PORT_KEY = "qemu_agent_port"
_MAC = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")
_SERIAL = re.compile(r"^[A-Za-z0-9._-]{1,20}$")  # virtio-blk serials: 20 bytes
AGENT_PORT = 9999  # where ingot's ramdisk agent listens inside the machine


def kvm_usable() -> bool:
    return os.access(KVM_DEVICE, os.R_OK | os.W_OK)


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


def _second_disk(node: Node, settings: DriverSettings) -> tuple[pathlib.Path, int] | None:
    """driver_info vm_disk2 (path, inside [local_vm] disk_paths) and vm_disk2_size."""
    if not node.driver_info.get("vm_disk2"):
        return None
    info = {"vm_disk": node.driver_info["vm_disk2"],
            "vm_disk_size": node.driver_info.get("vm_disk2_size",
                                                 settings.local_vm.default_disk_size)}
    proxy = dataclasses.replace(node, driver_info=info)
    try:
        return disk_path(proxy, settings), disk_size_mib(proxy, settings)
    except InvalidParameter as exc:
        raise InvalidParameter(str(exc).replace("vm_disk", "vm_disk2")) from None


def _disk2_serial(node: Node) -> str | None:
    raw = node.driver_info.get("vm_disk2_serial")
    if raw is None:
        return None
    if not isinstance(raw, str) or not _SERIAL.match(raw):
        raise InvalidParameter(f"driver_info vm_disk2_serial must be 1-20 letters, digits, "
                               f"'.', '_' or '-', got {raw!r}.")
    return raw


def _nic2_mac(node: Node) -> str | None:
    raw = node.driver_info.get("vm_nic2_mac")
    if raw is None:
        return None
    if not isinstance(raw, str) or not _MAC.match(raw.lower()):
        raise InvalidParameter(f"driver_info vm_nic2_mac must be a MAC address like "
                               f"52:54:00:12:34:56, got {raw!r}.")
    return raw.lower()


def ensure_second_disk(node: Node, settings: DriverSettings) -> None:
    second = _second_disk(node, settings)
    if second is not None and not second[0].exists():
        second[0].parent.mkdir(parents=True, exist_ok=True)
        with open(second[0], "wb") as disk:
            disk.truncate(second[1] << 20)


def _boot(boot_device: str, persistent: bool) -> str:
    if boot_device != "pxe":
        return "c"
    # Network boot once unless asked for always: a reboot from inside starts the disk.
    return "n" if persistent else "once=n,order=c"


def _uefi_boot_order(boot_device: str, second_disk: bool) -> dict[str, int]:
    """bootindex of the boot NIC (n0) and the disks (d0, d2): the boot device first.
    Every disk is listed, since OVMF drops the boot options the order does not name."""
    disks = ["d0", "d2"] if second_disk else ["d0"]
    devices = ["n0", *disks] if boot_device == "pxe" else [*disks, "n0"]
    return {device: index for index, device in enumerate(devices)}


def qemu_argv(node: Node, mac: str, boot_device: str, directory: pathlib.Path,
              settings: DriverSettings, persistent: bool = False) -> list[str]:
    disk = disk_path(node, settings)
    boot_script = settings.endpoints.http_url + "/boot.ipxe"
    uefi = boot_mode(node) == "uefi"
    netdev = f"user,id=n0,bootfile={_option(boot_script)}"
    agent_port = node.driver_internal_info.get(_AGENT_PORT_KEY)
    if agent_port:
        # The conductor reaches the agent inside through a port of the host's loopback.
        netdev += f",hostfwd=tcp:127.0.0.1:{int(agent_port)}-:{AGENT_PORT}"
    argv = [shutil.which(QEMU) or QEMU, "-name", f"ingot-{node.uuid}",
            "-machine", f"{'q35' if uefi else 'pc'},accel={settings.local_vm.qemu_accel}",
            "-m", str(_memory(node)), "-nographic",
            # Appended to: the deploy ramdisk's log stays when the machine reboots.
            "-chardev", f"file,id=serial0,append=on,"
                        f"path={_option(str(directory / (node.uuid + '.serial')))}",
            "-serial", "chardev:serial0", "-monitor", "none",
            "-netdev", netdev]
    second = _second_disk(node, settings)
    order = _uefi_boot_order(boot_device, second is not None)
    if uefi:
        # OVMF ignores -boot (SeaBIOS reads it from CMOS) and boots by its own variables,
        # where a deployed disk's ESP comes before the NIC: the boot order goes to it as
        # bootindex instead, which it applies on every start.
        argv += ["-device", f"virtio-net-pci,netdev=n0,mac={mac},bootindex={order['n0']}",
                 "-drive", f"file={_option(str(disk))},format=raw,if=none,id=d0",
                 "-device", f"virtio-blk-pci,drive=d0,bootindex={order['d0']}"]
    else:
        argv += ["-device", f"virtio-net-pci,netdev=n0,mac={mac}",
                 "-drive", f"file={_option(str(disk))},format=raw,if=virtio",
                 "-boot", _boot(boot_device, persistent)]
    if second is not None:
        serial = _disk2_serial(node)
        argv += ["-drive", f"file={_option(str(second[0]))},format=raw,if=none,id=d2",
                 "-device", "virtio-blk-pci,drive=d2" + (f",serial={serial}" if serial
                                                        else "")
                 + (f",bootindex={order['d2']}" if uefi else "")]
    nic2 = _nic2_mac(node)
    if nic2 is not None:
        # Its own user network, without a boot file: a NIC to discover, not to boot.
        argv += ["-netdev", "user,id=n1", "-device", f"virtio-net-pci,netdev=n1,mac={nic2}"]
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
        "vm_disk2": "Absolute path of a second disk image file, inside [local_vm] "
                    "disk_paths; created on power on if missing. Optional.",
        "vm_disk2_size": "Size in MiB of the second disk file when ingot creates it. "
                         "Optional.",
        "vm_disk2_serial": "Serial number the second disk reports (up to 20 characters), "
                           "for root device hints. Optional.",
        "vm_nic2_mac": "MAC address of a second network card, on a network of its own. "
                       "Optional.",
    }

    def validate(self, node: Node, settings: DriverSettings) -> None:
        disk_path(node, settings)
        disk_size_mib(node, settings)
        _memory(node)
        _second_disk(node, settings)
        _disk2_serial(node)
        _nic2_mac(node)
        if shutil.which(QEMU) is None:
            raise InvalidParameter(f"{QEMU} is not installed on this host (Debian package "
                                   f"qemu-system-x86).")
        if boot_mode(node) == "uefi" and not OVMF_CODE.exists():
            raise InvalidParameter("UEFI boot needs OVMF (Debian package ovmf).")
        if settings.local_vm.qemu_accel == "kvm" and not kvm_usable():
            raise InvalidParameter("[local_vm] qemu_accel is kvm, but /dev/kvm cannot be "
                                   "opened for reading and writing on this host.")

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
        ensure_second_disk(node, settings)
        directory = run_dir(settings)
        directory.mkdir(parents=True, exist_ok=True)
        internal = node.driver_internal_info
        argv = qemu_argv(node, macs[0], str(internal.get(_BOOT_KEY, "pxe")), directory,
                         settings, persistent=bool(internal.get(_PERSISTENT_KEY, True)))
        await asyncio.to_thread(node_processes.start, directory, node.uuid, argv)


class QemuManagement(ManagementInterface):
    name = "qemu"

    async def set_boot_device(self, task: Task, device: str, persistent: bool = False) -> None:
        task.set_internal(**self.boot_device_record(task.node, device, persistent))

    # The API's boot device endpoints: the machine's next start reads the recorded one.
    def supported_boot_devices(self, node: Node) -> tuple[str, ...]:
        return ("pxe", "disk")

    def boot_device(self, node: Node, settings: DriverSettings) -> dict[str, Any]:
        internal = node.driver_internal_info
        return {"boot_device": internal.get(_BOOT_KEY, "pxe"),
                "persistent": bool(internal.get(_PERSISTENT_KEY, True))}

    def boot_device_record(self, node: Node, device: str, persistent: bool) -> dict[str, Any]:
        if device not in self.supported_boot_devices(node):
            raise InvalidParameter(f"Invalid boot device {device} specified: qemu-vm nodes "
                                   f"boot from pxe or disk.")
        return {_BOOT_KEY: device, _PERSISTENT_KEY: persistent}


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
    "power": (QemuPower, AgentPower),
    "management": (QemuManagement,),
    "boot": (QemuIpxeBoot,),
    "deploy": (DirectDeploy, RamdiskDeploy, fake.FakeDeploy),
    "inspect": (AgentInspect, fake.NoInspect),
}))
hardware.register(QEMU_VM)
