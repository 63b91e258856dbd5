"""fake-hardware: every interface succeeds at once and touches nothing real."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ingot.common.power import POWER_OFF
from ingot.db.models import Node
from ingot.drivers.interfaces import (
    BootInterface,
    ConsoleInterface,
    DeployInterface,
    DriverError,
    InspectInterface,
    InvalidParameter,
    ManagementInterface,
    Outcome,
    PassiveInterface,
    PassthruMethod,
    PowerInterface,
    RaidInterface,
    RescueInterface,
    Task,
    VendorInterface,
)
from ingot.drivers.settings import DriverSettings


class FakePower(PowerInterface):
    name = "fake"

    async def get_power_state(self, task: Task) -> str:
        return task.node.power_state or POWER_OFF

    async def set_power_state(self, task: Task, state: str) -> None:
        task.save(power_state=state)


_VMEDIA_KEY = "fake_vmedia"
# Redfish's names of the virtual media types ingot's device types stand for.
_MEDIA_TYPES = {"cdrom": "CD", "disk": "USBStick", "floppy": "Floppy"}


class FakeManagement(ManagementInterface):
    """As Ironic's: boots from pxe, accepts nothing else, changes nothing."""

    name = "fake"

    async def set_boot_device(self, task: Task, device: str, persistent: bool = False) -> None:
        return None

    def supported_boot_devices(self, node: Node) -> tuple[str, ...]:
        return ("pxe",)

    def boot_device(self, node: Node, settings: DriverSettings) -> dict[str, Any]:
        return {"boot_device": "pxe", "persistent": False}

    def boot_device_record(self, node: Node, device: str, persistent: bool) -> dict[str, Any]:
        if device not in self.supported_boot_devices(node):
            raise InvalidParameter(f"Invalid boot device {device} specified.")
        return {}

    # Unlike Ironic's fake, which refuses virtual media, this one records what it was
    # asked in driver_internal_info, so API flows run end to end and tests can see it.
    def check_vmedia(self, node: Node, settings: DriverSettings) -> None:
        return None

    async def attach_virtual_media(self, task: Task, device_type: str, image_url: str,
                                   download_source: str) -> None:
        attached = dict(task.node.driver_internal_info.get(_VMEDIA_KEY) or {})
        attached[device_type] = {"image": image_url, "download_source": download_source}
        task.set_internal(**{_VMEDIA_KEY: attached})

    async def detach_virtual_media(self, task: Task, device_types: list[str] | None) -> None:
        attached = dict(task.node.driver_internal_info.get(_VMEDIA_KEY) or {})
        for device in list(attached) if device_types is None else device_types:
            attached.pop(device, None)
        task.set_internal(**{_VMEDIA_KEY: attached or None})

    def virtual_media(self, node: Node, settings: DriverSettings) -> list[dict[str, Any]]:
        attached = node.driver_internal_info.get(_VMEDIA_KEY) or {}
        return [{"media_types": [_MEDIA_TYPES[device]], "inserted": True,
                 "image": media["image"]} for device, media in sorted(attached.items())]


class FakeBoot(BootInterface):
    name = "fake"


class FakeDeploy(DeployInterface):
    name = "fake"

    async def deploy(self, task: Task) -> Outcome:
        return Outcome.DONE

    async def clean(self, task: Task, steps: list[dict[str, Any]] | None) -> Outcome:
        return Outcome.DONE

    async def service(self, task: Task, steps: list[dict[str, Any]]) -> Outcome:
        return Outcome.DONE


class FakeInspect(InspectInterface):
    name = "fake"


class FakeRescue(RescueInterface):
    name = "fake"


class FakeConsole(ConsoleInterface):
    name = "fake"

    def check_console(self, node: Node) -> None:
        return None


class NoConsole(ConsoleInterface):
    name = "no-console"


# Ironic's RAID configuration schema: what a logical disk may say.
RAID_LEVELS = ("JBOD", "0", "1", "2", "5", "6", "1+0", "5+0", "6+0")
LOGICAL_DISK_PROPERTIES = {
    "raid_level": f"RAID level for the logical disk. Valid values are "
                  f"{', '.join(repr(level) for level in RAID_LEVELS)}. Required.",
    "size_gb": "Size in GiB (Integer) for the logical disk. Use 'MAX' as size_gb if this "
               "logical disk is supposed to use the rest of the space available. Required.",
    "volume_name": "Name of the volume to be created. If this is not specified, it will be "
                   "auto-generated. Optional.",
    "is_root_volume": "Specifies whether this disk is a root volume. By default, this is "
                      "False. Optional.",
    "share_physical_disks": "Specifies whether other logical disks can share physical "
                            "disks with this logical disk. By default, this is False. "
                            "Optional.",
    "disk_type": "The type of disk preferred. Valid values are 'hdd' and 'ssd'. Optional.",
    "interface_type": "The interface type of disk. Valid values are 'sata', 'scsi' and "
                      "'sas'. Optional.",
    "number_of_physical_disks": "Number of physical disks to use for this logical disk. "
                                "Optional.",
    "controller": "Controller to use for this logical disk. Optional.",
    "physical_disks": "The physical disks to use for this logical disk. Optional.",
}
_DISK_CHECKS: dict[str, Callable[[Any], bool]] = {
    "raid_level": lambda v: v in RAID_LEVELS,
    "size_gb": lambda v: v == "MAX" or (isinstance(v, int) and not isinstance(v, bool)
                                        and v >= 0),
    "volume_name": lambda v: isinstance(v, str),
    "is_root_volume": lambda v: isinstance(v, bool),
    "share_physical_disks": lambda v: isinstance(v, bool),
    "disk_type": lambda v: v in ("hdd", "ssd"),
    "interface_type": lambda v: v in ("sata", "scsi", "sas"),
    "number_of_physical_disks": lambda v: isinstance(v, int) and not isinstance(v, bool)
    and v > 0,
    "controller": lambda v: isinstance(v, str),
    "physical_disks": lambda v: isinstance(v, list),
}


def check_raid_schema(config: dict[str, Any]) -> None:
    """Ironic's raid_config_schema.json, with messages naming the key."""
    if not config:
        return  # an empty configuration clears the target
    if set(config) != {"logical_disks"} or not isinstance(config["logical_disks"], list):
        raise InvalidParameter("RAID config validation error: the configuration is "
                               "{\"logical_disks\": [...]}.")
    for index, disk in enumerate(config["logical_disks"]):
        if not isinstance(disk, dict):
            raise InvalidParameter(f"RAID config validation error: logical_disks[{index}] "
                                   f"is not an object.")
        for key in ("raid_level", "size_gb"):
            if key not in disk:
                raise InvalidParameter(f"RAID config validation error: '{key}' is a "
                                       f"required property of logical_disks[{index}].")
        for key, value in disk.items():
            check = _DISK_CHECKS.get(key)
            if check is None:
                raise InvalidParameter(f"RAID config validation error: unknown property "
                                       f"'{key}' in logical_disks[{index}].")
            if not check(value):
                raise InvalidParameter(f"RAID config validation error: invalid {key} "
                                       f"{value!r} in logical_disks[{index}].")


# Where fake interfaces record the deploy steps they ran, with the power state each
# found the node in: a test sees what ran, in which order, before or after the deploy.
FAKE_STEPS_KEY = "fake_deploy_steps"


async def record_step(task: Task, interface: str, step: str, args: dict[str, Any]
                      ) -> Outcome:
    ran = list(task.node.driver_internal_info.get(FAKE_STEPS_KEY) or [])
    ran.append({"step": f"{interface}.{step}", "args": args,
                "power_state": task.node.power_state})
    task.set_internal(**{FAKE_STEPS_KEY: ran})
    return Outcome.DONE


class FakeBios(PassiveInterface):
    kind = "bios"
    name = "fake"
    deploy_steps = {"apply_configuration": 0, "factory_reset": 0}

    async def execute_deploy_step(self, task: Task, step: str, args: dict[str, Any]
                                  ) -> Outcome:
        if step not in self.deploy_steps:
            return await super().execute_deploy_step(task, step, args)
        return await record_step(task, self.kind, step, args)


class FakeRaid(RaidInterface):
    name = "fake"
    logical_disk_properties = LOGICAL_DISK_PROPERTIES
    deploy_steps = {"apply_configuration": 0, "create_configuration": 0,
                    "delete_configuration": 0}

    async def execute_deploy_step(self, task: Task, step: str, args: dict[str, Any]
                                  ) -> Outcome:
        if step not in self.deploy_steps:
            return await super().execute_deploy_step(task, step, args)
        return await record_step(task, self.kind, step, args)

    def check_raid_config(self, node: Node, config: dict[str, Any]) -> None:
        check_raid_schema(config)


class NoRaid(RaidInterface):
    name = "no-raid"


def _bar_is(expected: str) -> Callable[[Node | None, dict[str, Any]], Any]:
    def run(node: Node | None, args: dict[str, Any]) -> bool:
        if not args.get("bar"):
            raise InvalidParameter("Parameter 'bar' not passed to method.")
        return bool(args["bar"] == expected)
    return run


class FakeVendor(VendorInterface):
    """Ironic's fake vendor interface (FakeVendorB): methods that compare 'bar'."""

    name = "fake"
    properties = {"B1": "B1 description. Required.", "B2": "B2 description. Required."}
    node_methods = {
        "second_method": PassthruMethod(_bar_is("kazoo"),
                                        "Test if the value of bar is kazoo"),
        "third_method_sync": PassthruMethod(_bar_is("meow"), "Test if the value of bar is "
                                            "meow", is_async=False),
        "fourth_method_shared_lock": PassthruMethod(_bar_is("woof"), "Test if the value of "
                                                    "bar is woof",
                                                    require_exclusive_lock=False),
        "log_passthrough": PassthruMethod(lambda node, args: None,
                                          "Test pass-through to wait."),
    }


class NoVendor(VendorInterface):
    name = "no-vendor"


class NoInspect(InspectInterface):
    """For hardware types that cannot inspect: inspection fails with a clear message."""

    name = "no-inspect"

    async def inspect(self, task: Task) -> Outcome:
        raise DriverError(f"Hardware type {task.node.driver} does not support inspection.")


class NoRescue(RescueInterface):
    name = "no-rescue"

    async def rescue(self, task: Task) -> Outcome:
        raise DriverError(f"Hardware type {task.node.driver} does not support rescue.")


def passive(kind: str, implementation: str) -> type[PassiveInterface]:
    """A do-nothing implementation class for a kind ingot only carries for the API."""
    return type(f"{implementation.title()}{kind.title()}", (PassiveInterface,),
                {"kind": kind, "name": implementation})
