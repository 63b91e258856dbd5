"""local-vm: a virtual node on this host whose disk is a file.

It behaves like a physical server as far as ingot can tell: the management interface
sets the boot device; powering on with the network as boot device boots the deploy
"ramdisk", which here is an ``ingot agent`` process writing into the disk file, and
powering on from disk "boots the instance" (nothing runs: the disk file holds it).
"""

from __future__ import annotations

import asyncio
import pathlib
import secrets
import shlex
import sys
from typing import Any

from ingot.common.power import POWER_OFF, POWER_ON
from ingot.db import nodes
from ingot.db.models import Node
from ingot.drivers import fake, hardware, node_processes, ramdisk_exit
from ingot.drivers.agent_inspect import CALLBACK_PARAM, AgentInspect
from ingot.drivers.agent_power import AgentPower
from ingot.drivers.direct import DirectDeploy
from ingot.drivers.interfaces import (
    BootInterface,
    InvalidParameter,
    ManagementInterface,
    MissingParameter,
    PowerInterface,
    Task,
)
from ingot.drivers.services import Services
from ingot.drivers.settings import DriverSettings

LOCAL_VM_NAME = "local-vm"
_POWER_KEY = "local_vm_power"
_BOOT_KEY = "local_vm_boot_device"
# Where the agent of the next boot posts its inventory (inspection), else absent.
_INSPECTION_KEY = "local_vm_inspection_callback_url"


def run_dir(settings: DriverSettings) -> pathlib.Path:
    return settings.state_path / "local-vm"


def disk_path(node: Node, settings: DriverSettings) -> pathlib.Path:
    """The node's vm_disk, checked to be inside [local_vm] disk_paths."""
    raw = node.driver_info.get("vm_disk")
    if not isinstance(raw, str) or not raw:
        raise MissingParameter("driver_info is missing vm_disk, the path of the node's "
                               "disk image file.")
    path = pathlib.Path(raw)
    if not path.is_absolute():
        raise InvalidParameter(f"driver_info vm_disk must be an absolute path, got {raw!r}.")
    resolved = path.resolve()
    allowed = [p.resolve() for p in settings.local_vm.disk_paths]
    if not any(resolved == base or base in resolved.parents for base in allowed):
        raise InvalidParameter(f"driver_info vm_disk {raw!r} is outside the directories "
                               f"allowed by [local_vm] disk_paths.")
    return resolved


def disk_size_mib(node: Node, settings: DriverSettings) -> int:
    raw = node.driver_info.get("vm_disk_size", settings.local_vm.default_disk_size)
    try:
        size = int(raw)
    except (TypeError, ValueError):
        raise InvalidParameter(f"driver_info vm_disk_size must be a number of MiB, got "
                               f"{raw!r}.") from None
    if size < 1:
        raise InvalidParameter("driver_info vm_disk_size must be at least 1 MiB.")
    return size


def ensure_disk(node: Node, settings: DriverSettings) -> pathlib.Path:
    """The node's disk file, created sparse at vm_disk_size if it does not exist."""
    path = disk_path(node, settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        with open(path, "wb") as disk:
            disk.truncate(disk_size_mib(node, settings) * 1024 * 1024)
    return path


def agent_argv(node_uuid: str, macs: list[str], disk: pathlib.Path,
               settings: DriverSettings, inspection_url: str = "") -> list[str]:
    """The command that boots the node's "ramdisk": [local_vm] agent_command, else
    ingot's own agent; inspection_url set when the agent is to post its inventory."""
    template = settings.local_vm.agent_command
    interval = str(settings.local_vm.agent_heartbeat_interval)
    if template:
        values = {"api_url": settings.endpoints.api_url, "node_uuid": node_uuid,
                  "macs": ",".join(macs), "disk": str(disk), "heartbeat_interval": interval,
                  "inspection_callback_url": inspection_url}
        try:
            return [part.format(**values) for part in shlex.split(template)]
        except (KeyError, IndexError, ValueError) as exc:
            raise InvalidParameter(f"[local_vm] agent_command is not a valid command "
                                   f"template: {exc!r}") from None
    argv = [sys.executable, "-m", "ingot", "agent", "--api-url", settings.endpoints.api_url,
            "--node-uuid", node_uuid, "--target", str(disk), "--listen", "127.0.0.1:0",
            "--heartbeat-interval", interval, "--work-dir", str(disk.parent)]
    for mac in macs:
        argv += ["--mac", mac]
    if inspection_url:
        argv += ["--inspection-callback-url", inspection_url]
    return argv



def fail_orphaned_agents(services: Services) -> list[str]:
    """Housekeeping: fail the nodes waiting for an agent that ended while no conductor
    watched it (this one restarted meanwhile); the node uuids failed. Agents this
    conductor started report their own end (set_power_state)."""
    found = node_processes.orphans(run_dir(services.settings))
    failed = []
    for node_uuid, log_tail in found.items():
        with services.db.read() as conn:
            node = nodes.get_by_uuid(conn, node_uuid)
        if node is None or node.driver != LOCAL_VM_NAME:
            continue
        message = ramdisk_exit.exit_message(f"The agent process of node {node.uuid}", None,
                                            log_tail)
        if ramdisk_exit.fail_waiting_node(
                services.db, node.id, node.agent_token, message, settle_timeout=0,
                history_max_entries=services.settings.node_history_max_entries):
            failed.append(node.uuid)
    return failed

class LocalVmPower(PowerInterface):
    name = "local-vm"
    properties = {
        "vm_disk": "Absolute path of the node's disk image file, inside [local_vm] "
                   "disk_paths; created on first power on if missing. Required.",
        "vm_disk_size": "Size in MiB of the disk file when ingot creates it. Optional.",
    }

    def validate(self, node: Node, settings: DriverSettings) -> None:
        disk_path(node, settings)
        disk_size_mib(node, settings)

    async def get_power_state(self, task: Task) -> str:
        info = task.node.driver_internal_info
        if info.get(_BOOT_KEY, "disk") == "pxe":
            running = node_processes.running_pid(run_dir(task.services.settings),
                                                 task.node.uuid)
            return POWER_ON if running else POWER_OFF
        return str(info.get(_POWER_KEY, POWER_OFF))

    async def set_power_state(self, task: Task, state: str) -> None:
        node, settings = task.node, task.services.settings
        await asyncio.to_thread(node_processes.stop, run_dir(settings), node.uuid)
        task.set_internal(**{_POWER_KEY: state})
        if state == POWER_ON and node.driver_internal_info.get(_BOOT_KEY) == "pxe":
            disk = ensure_disk(node, settings)
            # A new "boot" of the ramdisk (powering off wiped the last agent's token).
            # ingot's agent gets its token out of band, the way virtual media does it,
            # and lookup only masks it; another agent command gets one at lookup, as
            # with a network boot.
            token = None if settings.local_vm.agent_command else secrets.token_urlsafe(32)
            task.save(agent_token=token, agent_url=None, agent_last_heartbeat=None,
                      agent_progress=None, agent_version=None, agent_verify_ca=None)
            db, node_id = task.db, node.id

            def agent_exited(code: int, log_tail: str) -> None:
                message = ramdisk_exit.exit_message(
                    f"The agent process of node {node.uuid}", code, log_tail)
                ramdisk_exit.fail_waiting_node(
                    db, node_id, token, message,
                    history_max_entries=settings.node_history_max_entries)

            await asyncio.to_thread(node_processes.start, run_dir(settings), node.uuid,
                                    agent_argv(node.uuid, task.macs, disk, settings,
                                               str(node.driver_internal_info.get(
                                                   _INSPECTION_KEY) or "")),
                                    env={"INGOT_AGENT_TOKEN": token} if token else None,
                                    on_exit=agent_exited)


class LocalVmManagement(ManagementInterface):
    name = "local-vm"

    def validate(self, node: Node, settings: DriverSettings) -> None:
        disk_path(node, settings)

    async def set_boot_device(self, task: Task, device: str, persistent: bool = False) -> None:
        if device not in ("pxe", "disk"):
            raise InvalidParameter(f"local-vm nodes boot from pxe or disk, not {device!r}.")
        task.set_internal(**{_BOOT_KEY: device})


class LocalVmBoot(BootInterface):
    """Booting the agent or the instance only means choosing the boot device."""

    name = "local-vm"

    async def prepare_ramdisk(self, task: Task, params: dict[str, Any]) -> None:
        task.set_internal(**{_INSPECTION_KEY: params.get(CALLBACK_PARAM)})
        await task.driver.management.set_boot_device(task, "pxe")

    async def prepare_instance(self, task: Task) -> None:
        await task.driver.management.set_boot_device(task, "disk", persistent=True)


_SUPPORTED = hardware.with_no_op({
    "power": (LocalVmPower, AgentPower),
    "management": (LocalVmManagement,),
    "boot": (LocalVmBoot,),
    "deploy": (DirectDeploy, fake.FakeDeploy),
    "inspect": (AgentInspect, fake.NoInspect),
})
# After the no-ops (the defaults): fake BIOS and RAID deploy steps that record what they
# were asked, so deploy templates can run around a real agent deploy.
_SUPPORTED["bios"] += (fake.FakeBios,)
_SUPPORTED["raid"] += (fake.FakeRaid,)
LOCAL_VM = hardware.HardwareType(LOCAL_VM_NAME, _SUPPORTED)
hardware.register(LOCAL_VM)
