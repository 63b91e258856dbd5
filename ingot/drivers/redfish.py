"""redfish: servers whose BMC speaks Redfish (power, boot device, virtual media),
through sushy.

Power changes wait until the BMC reports the state asked for, up to [conductor]
power_state_change_timeout, as Ironic does.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import sushy
from sushy import exceptions as sushy_exc

from ingot.common.power import POWER_OFF, POWER_ON
from ingot.db.models import Node
from ingot.drivers import fake, hardware, redfish_info, redfish_media, vmedia_images
from ingot.drivers.agent_inspect import AgentInspect
from ingot.drivers.direct import DirectDeploy
from ingot.drivers.interfaces import (
    DriverError,
    InvalidParameter,
    ManagementInterface,
    PowerInterface,
    Task,
)
from ingot.drivers.ipxe import IpxeBootInterface
from ingot.drivers.ramdisk_deploy import RamdiskDeploy
from ingot.drivers.redfish_client import call, call_blocking
from ingot.drivers.redfish_vmedia import RedfishVirtualMediaBoot
from ingot.drivers.settings import DriverSettings

# Ironic's boot device names -> Redfish BootSourceOverrideTarget
BOOT_DEVICES = {
    "pxe": sushy.BOOT_SOURCE_TARGET_PXE,
    "disk": sushy.BOOT_SOURCE_TARGET_HDD,
    "cdrom": sushy.BOOT_SOURCE_TARGET_CD,
    "bios": sushy.BOOT_SOURCE_TARGET_BIOS_SETUP,
    "usb": sushy.BOOT_SOURCE_TARGET_USB,
}
_DEVICE_NAMES = {target: name for name, target in BOOT_DEVICES.items()}
_BOOT_MODES = {"bios": sushy.BOOT_SOURCE_MODE_BIOS, "uefi": sushy.BOOT_SOURCE_MODE_UEFI}
_ON_STATES = (sushy.SYSTEM_POWER_STATE_ON, sushy.SYSTEM_POWER_STATE_POWERING_OFF)


def _power_state(system: Any) -> str:
    return POWER_ON if system.power_state in _ON_STATES else POWER_OFF


def _reset_and_wait(system: Any, reset: Any, wanted: str, timeout: float) -> None:
    system.reset_system(reset)
    deadline = time.monotonic() + timeout
    while True:
        system.refresh(force=True)
        if _power_state(system) == wanted:
            return
        if time.monotonic() > deadline:
            raise DriverError(f"The BMC did not report power {wanted.removeprefix('power ')} "
                              f"within {timeout:.0f} s of the request.")
        time.sleep(1)


class RedfishPower(PowerInterface):
    name = "redfish"
    properties = redfish_info.PROPERTIES

    def validate(self, node: Node, settings: DriverSettings) -> None:
        redfish_info.parse(node, settings)

    async def get_power_state(self, task: Task) -> str:
        return await call(task.node, task.services.settings, _power_state)

    async def set_power_state(self, task: Task, state: str) -> None:
        timeout = task.services.settings.bmc.power_state_change_timeout
        resets = {POWER_ON: (sushy.RESET_ON, POWER_ON),
                  POWER_OFF: (sushy.RESET_FORCE_OFF, POWER_OFF)}
        if state not in resets:
            raise InvalidParameter(f"redfish cannot set power state {state!r}.")
        reset, wanted = resets[state]

        def change(system: Any) -> None:
            if _power_state(system) != wanted:
                _reset_and_wait(system, reset, wanted, timeout)
        await call(task.node, task.services.settings, change)

    async def reboot(self, task: Task) -> None:
        timeout = task.services.settings.bmc.power_state_change_timeout

        def restart(system: Any) -> None:
            if _power_state(system) == POWER_ON:
                system.reset_system(sushy.RESET_FORCE_RESTART)
            else:
                _reset_and_wait(system, sushy.RESET_ON, POWER_ON, timeout)
        await call(task.node, task.services.settings, restart)


    async def soft_power_off(self, task: Task, timeout: float | None) -> None:
        wait = timeout or task.services.settings.bmc.power_state_change_timeout

        def shut_down(system: Any) -> None:
            if _power_state(system) == POWER_ON:
                _reset_and_wait(system, sushy.RESET_GRACEFUL_SHUTDOWN, POWER_OFF, wait)
        await call(task.node, task.services.settings, shut_down)

    async def soft_reboot(self, task: Task, timeout: float | None) -> None:
        wait = timeout or task.services.settings.bmc.power_state_change_timeout

        def restart(system: Any) -> None:
            if _power_state(system) == POWER_ON:
                system.reset_system(sushy.RESET_GRACEFUL_RESTART)
            else:
                _reset_and_wait(system, sushy.RESET_ON, POWER_ON, wait)
        await call(task.node, task.services.settings, restart)


class RedfishManagement(ManagementInterface):
    name = "redfish"
    properties = redfish_info.PROPERTIES

    def validate(self, node: Node, settings: DriverSettings) -> None:
        redfish_info.parse(node, settings)

    async def set_boot_device(self, task: Task, device: str, persistent: bool = False) -> None:
        await asyncio.to_thread(self.change_boot_device, task.node, task.services.settings,
                                device, persistent)

    def supported_boot_devices(self, node: Node) -> tuple[str, ...]:
        return tuple(BOOT_DEVICES)

    def boot_device(self, node: Node, settings: DriverSettings) -> dict[str, Any]:
        def read(system: Any) -> dict[str, Any]:
            boot = system.boot
            return {"boot_device": _DEVICE_NAMES.get(boot.target),
                    "persistent": boot.enabled == sushy.BOOT_SOURCE_ENABLED_CONTINUOUS}
        return call_blocking(node, settings, read)

    def change_boot_device(self, node: Node, settings: DriverSettings, device: str,
                           persistent: bool) -> dict[str, Any]:
        target = BOOT_DEVICES.get(device)
        if target is None:
            raise InvalidParameter(f"Invalid boot device {device} specified: redfish nodes "
                                   f"boot from {', '.join(BOOT_DEVICES)}.")
        enabled = (sushy.BOOT_SOURCE_ENABLED_CONTINUOUS if persistent
                   else sushy.BOOT_SOURCE_ENABLED_ONCE)
        call_blocking(node, settings,
                      lambda system: system.set_system_boot_options(target, enabled=enabled))
        return {}

    def inject_nmi(self, node: Node, settings: DriverSettings) -> None:
        call_blocking(node, settings, lambda system: system.reset_system(sushy.RESET_NMI))

    async def set_boot_mode(self, task: Task, mode: str) -> None:
        target = _BOOT_MODES[mode]
        await call(task.node, task.services.settings,
                   lambda system: system.set_system_boot_options(mode=target))

    async def set_secure_boot(self, task: Task, enabled: bool) -> None:
        def change(system: Any) -> None:
            try:
                secure_boot = system.secure_boot
            except sushy_exc.MissingAttributeError:
                raise DriverError("The BMC has no SecureBoot resource for this "
                                  "system.") from None
            secure_boot.set_enabled(enabled)
        await call(task.node, task.services.settings, change)

    def check_vmedia(self, node: Node, settings: DriverSettings) -> None:
        redfish_info.parse(node, settings)

    async def attach_virtual_media(self, task: Task, device_type: str, image_url: str,
                                   download_source: str) -> None:
        node, services = task.node, task.services
        url = await asyncio.to_thread(vmedia_images.publish, node.uuid, services,
                                      device_type, image_url, download_source)
        media_type = redfish_media.MEDIA_TYPES[device_type]
        try:
            await call(node, services.settings,
                       lambda system: redfish_media.insert(system, media_type, url))
        except DriverError:
            vmedia_images.unpublish(node.uuid, services.settings, [device_type])
            raise

    async def detach_virtual_media(self, task: Task, device_types: list[str] | None) -> None:
        node, settings = task.node, task.services.settings

        def detach(system: Any) -> None:
            if device_types is None:
                redfish_media.eject(system)
            for device_type in device_types or ():
                redfish_media.eject(system, redfish_media.MEDIA_TYPES[device_type])
        await call(node, settings, detach)
        vmedia_images.unpublish(node.uuid, settings, device_types)

    def virtual_media(self, node: Node, settings: DriverSettings) -> list[dict[str, Any]]:
        return call_blocking(node, settings, redfish_media.describe)


def _supported() -> dict[str, tuple[type[Any], ...]]:
    return {
        "power": (RedfishPower,),
        "management": (RedfishManagement,),
        "boot": (IpxeBootInterface, RedfishVirtualMediaBoot),
        "deploy": (DirectDeploy, RamdiskDeploy, fake.FakeDeploy),
        "inspect": (AgentInspect,),
    }


REDFISH = hardware.HardwareType("redfish", hardware.with_no_op(_supported()))
hardware.register(REDFISH)
