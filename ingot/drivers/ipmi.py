"""ipmi: servers whose BMC speaks IPMI, through ipmitool (Debian package ipmitool),
with Ironic's ipmi_* driver_info fields. The password reaches ipmitool through its
environment (-E), never its command line."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import shutil
import subprocess
import time
from typing import Any

from ingot.common.power import POWER_OFF, POWER_ON
from ingot.common.redaction import redact_text
from ingot.db.models import Node
from ingot.drivers import fake, hardware
from ingot.drivers.agent_inspect import AgentInspect
from ingot.drivers.direct import DirectDeploy
from ingot.drivers.interfaces import (
    DriverError,
    InvalidParameter,
    ManagementInterface,
    MissingParameter,
    PowerInterface,
    Task,
)
from ingot.drivers.ipxe import IpxeBootInterface
from ingot.drivers.ramdisk_deploy import RamdiskDeploy
from ingot.drivers.settings import DriverSettings

IPMITOOL = "ipmitool"
PRIV_LEVELS = ("ADMINISTRATOR", "CALLBACK", "OPERATOR", "USER")
BOOT_DEVICES = {"pxe": "pxe", "disk": "disk", "cdrom": "cdrom", "bios": "bios",
                "safe": "safe"}
# ipmitool's words for the boot device selector of boot parameter 5
_SELECTORS = {"Force PXE": "pxe", "Force Boot from default Hard-Drive": "disk",
              "Force Boot from CD/DVD": "cdrom", "Force Boot into BIOS Setup": "bios",
              "Force Boot from default Hard-Drive, request Safe-Mode": "safe"}

PROPERTIES = {
    "ipmi_address": "IP address or host name of the BMC. Required.",
    "ipmi_port": "UDP port of the BMC (default 623). Optional.",
    "ipmi_username": "User name for the BMC. Optional.",
    "ipmi_password": "Password for the BMC. Optional.",
    "ipmi_priv_level": "Privilege level: ADMINISTRATOR (default), CALLBACK, OPERATOR or "
                       "USER. Optional.",
    "ipmi_protocol_version": "IPMI protocol version, 1.5 or 2.0 (default). Optional.",
    "ipmi_cipher_suite": "IPMI 2.0 cipher suite number. Optional.",
}


@dataclasses.dataclass(frozen=True, slots=True)
class IpmiInfo:
    address: str
    port: int
    username: str | None
    password: str | None
    priv_level: str
    protocol_version: str
    cipher_suite: int | None


def parse(node: Node) -> IpmiInfo:
    info = node.driver_info
    address = info.get("ipmi_address")
    if not address:
        raise MissingParameter("driver_info is missing ipmi_address.")
    if not isinstance(address, str) or address.startswith("-") or " " in address:
        raise InvalidParameter("driver_info ipmi_address must be a host name or address.")
    try:
        port = int(info.get("ipmi_port", 623))
    except (TypeError, ValueError):
        raise InvalidParameter("driver_info ipmi_port must be a port number.") from None
    if not 0 < port < 65536:
        raise InvalidParameter("driver_info ipmi_port must be a port number.")
    for field in ("ipmi_username", "ipmi_password"):
        if info.get(field) is not None and not isinstance(info[field], str):
            raise InvalidParameter(f"driver_info {field} must be a string.")
    priv_level = str(info.get("ipmi_priv_level", "ADMINISTRATOR"))
    if priv_level not in PRIV_LEVELS:
        raise InvalidParameter(f"driver_info ipmi_priv_level must be one of "
                               f"{', '.join(PRIV_LEVELS)}, not {priv_level!r}.")
    version = str(info.get("ipmi_protocol_version", "2.0"))
    if version not in ("1.5", "2.0"):
        raise InvalidParameter(f"driver_info ipmi_protocol_version must be 1.5 or 2.0, not "
                               f"{version!r}.")
    suite = info.get("ipmi_cipher_suite")
    try:
        cipher_suite = None if suite in (None, "") else int(suite)
    except (TypeError, ValueError):
        raise InvalidParameter("driver_info ipmi_cipher_suite must be a number.") from None
    return IpmiInfo(address, port, info.get("ipmi_username"), info.get("ipmi_password"),
                    priv_level, version, cipher_suite)


def _argv(info: IpmiInfo, command: list[str]) -> list[str]:
    argv = [shutil.which(IPMITOOL) or IPMITOOL,
            "-I", "lanplus" if info.protocol_version == "2.0" else "lan",
            "-H", info.address, "-p", str(info.port), "-L", info.priv_level,
            # One try per run: ingot retries whole commands until its deadline.
            "-R", "1", "-N", "2"]
    if info.cipher_suite is not None:
        argv += ["-C", str(info.cipher_suite)]
    if info.username:
        argv += ["-U", info.username]
    if info.password:
        argv += ["-E"]  # the password from IPMI_PASSWORD
    return argv + command


def run_blocking(node: Node, settings: DriverSettings, command: list[str]) -> str:
    """Run an ipmitool command against the node's BMC until it works or
    [ipmi] command_retry_timeout passes; its output."""
    info = parse(node)
    env = {**os.environ, "IPMI_PASSWORD": info.password or ""}
    deadline = time.monotonic() + settings.bmc.ipmi_command_timeout
    while True:
        try:
            done = subprocess.run(_argv(info, command), env=env, capture_output=True,
                                  text=True, timeout=30, check=False)
        except FileNotFoundError:
            raise DriverError("ipmitool is not installed on this conductor (Debian package "
                              "ipmitool).") from None
        except subprocess.TimeoutExpired:
            error = "ipmitool did not answer within 30 s"
        else:
            if done.returncode == 0:
                return done.stdout
            error = done.stderr.strip() or done.stdout.strip()
        if time.monotonic() > deadline:
            raise DriverError(f"IPMI BMC {info.address}:{info.port} failed "
                              f"'{' '.join(command)}' (unreachable, or it refused "
                              f"driver_info ipmi_username/ipmi_password): "
                              f"{redact_text(error)[-300:]}")
        time.sleep(1)


class IpmitoolPower(PowerInterface):
    name = "ipmitool"
    properties = PROPERTIES

    def validate(self, node: Node, settings: DriverSettings) -> None:
        parse(node)

    async def get_power_state(self, task: Task) -> str:
        out = await asyncio.to_thread(run_blocking, task.node, task.services.settings,
                                      ["power", "status"])
        return POWER_ON if out.strip().endswith("on") else POWER_OFF

    async def set_power_state(self, task: Task, state: str) -> None:
        if state not in (POWER_ON, POWER_OFF):
            raise InvalidParameter(f"ipmitool cannot set power state {state!r}.")
        await asyncio.to_thread(run_blocking, task.node, task.services.settings,
                                ["power", "on" if state == POWER_ON else "off"])
        await self._wait(task, state)

    async def reboot(self, task: Task) -> None:
        if await self.get_power_state(task) == POWER_ON:
            await asyncio.to_thread(run_blocking, task.node, task.services.settings,
                                    ["power", "reset"])
        else:
            await self.set_power_state(task, POWER_ON)

    async def _wait(self, task: Task, state: str) -> None:
        timeout = task.services.settings.bmc.power_state_change_timeout
        deadline = time.monotonic() + timeout
        while await self.get_power_state(task) != state:
            if time.monotonic() > deadline:
                raise DriverError(f"The BMC did not report {state} within {timeout:.0f} s "
                                  f"of the request.")
            await asyncio.sleep(1)


class IpmitoolManagement(ManagementInterface):
    name = "ipmitool"
    properties = PROPERTIES

    def validate(self, node: Node, settings: DriverSettings) -> None:
        parse(node)

    async def set_boot_device(self, task: Task, device: str, persistent: bool = False) -> None:
        await asyncio.to_thread(self.change_boot_device, task.node, task.services.settings,
                                device, persistent)

    def supported_boot_devices(self, node: Node) -> tuple[str, ...]:
        return tuple(BOOT_DEVICES)

    def boot_device(self, node: Node, settings: DriverSettings) -> dict[str, Any]:
        out = run_blocking(node, settings, ["chassis", "bootparam", "get", "5"])
        selector = re.search(r"Boot Device Selector\s*:\s*(.+)", out)
        return {"boot_device": _SELECTORS.get(selector.group(1).strip()) if selector
                else None,
                "persistent": "Options apply to all future boots" in out}

    def change_boot_device(self, node: Node, settings: DriverSettings, device: str,
                           persistent: bool) -> dict[str, Any]:
        if device not in BOOT_DEVICES:
            raise InvalidParameter(f"Invalid boot device {device} specified: ipmi nodes "
                                   f"boot from {', '.join(BOOT_DEVICES)}.")
        command = ["chassis", "bootdev", BOOT_DEVICES[device]]
        if persistent:
            command.append("options=persistent")
        run_blocking(node, settings, command)
        return {}

    def inject_nmi(self, node: Node, settings: DriverSettings) -> None:
        run_blocking(node, settings, ["chassis", "power", "diag"])


IPMI = hardware.HardwareType("ipmi", hardware.with_no_op({
    "power": (IpmitoolPower,),
    "management": (IpmitoolManagement,),
    "boot": (IpxeBootInterface,),
    "deploy": (DirectDeploy, RamdiskDeploy, fake.FakeDeploy),
    "inspect": (AgentInspect,),
}))
hardware.register(IPMI)
