"""The interfaces a hardware type is made of, as in Ironic.

A hardware type names, for each kind of interface, the implementations it supports
(the first is the default). A node picks one implementation per kind in its
``*_interface`` fields. Implementations are stateless: everything they know about a
node comes from the task they are given.
"""

from __future__ import annotations

import abc
import dataclasses
import enum
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

from ingot.common.power import POWER_OFF, POWER_ON, REBOOT
from ingot.db.engine import Database
from ingot.db.models import Node
from ingot.drivers.services import Services
from ingot.drivers.settings import INTERFACE_KINDS, DriverSettings

__all__ = ["INTERFACE_KINDS"]



class InvalidParameter(ValueError):
    """driver_info or instance_info is wrong; the message names the field."""


class MissingParameter(InvalidParameter):
    """A required driver_info or instance_info field is absent."""


class DriverError(RuntimeError):
    """A driver operation failed; the message goes to the node's last_error."""


class Unsupported(InvalidParameter):
    """The node's interface does not do this (Ironic's UnsupportedDriverExtension)."""

    def __init__(self, driver: str, extension: str):
        super().__init__(f"Driver {driver} does not support {extension} (disabled or not "
                         f"implemented).")


class Outcome(enum.Enum):
    """How a deploy, clean or inspect step ended."""

    DONE = "done"
    WAIT = "wait"  # the agent will call back


class Task(Protocol):
    """What a conductor gives an interface while it holds the node's reservation."""

    node: Node
    driver: DriverSet
    db: Database
    services: Services

    @property
    def macs(self) -> list[str]: ...

    @property
    def pxe_macs(self) -> list[str]: ...

    def save(self, **values: Any) -> None:
        """Persist node columns (the task must still hold the reservation)."""

    def set_internal(self, **changes: Any) -> None:
        """Merge keys into driver_internal_info (None removes a key) and persist."""


class Interface(abc.ABC):
    kind: ClassVar[str]
    name: ClassVar[str]
    # driver_info keys this implementation reads, with their descriptions: the
    # answer of GET /v1/drivers/{driver}/properties.
    properties: ClassVar[dict[str, str]] = {}

    def validate(self, node: Node, settings: DriverSettings) -> None:  # noqa: B027 - optional
        """Raise InvalidParameter if the node cannot use this interface."""

    # Deploy steps this implementation offers: name -> default priority; 0 runs only
    # when a deploy template or the deploy request asks for it (conductor/deploy_steps.py).
    deploy_steps: ClassVar[dict[str, int]] = {}

    async def execute_deploy_step(self, task: Task, step: str, args: dict[str, Any]
                                  ) -> Outcome:
        """Run one of deploy_steps; WAIT: the agent will call back (deploy interface)."""
        raise DriverError(f"{self.kind} interface {self.name} has no deploy step {step}.")


class PowerInterface(Interface):
    kind = "power"
    # What set_power_state can do (Ironic's get_supported_power_states).
    supported_power_states: ClassVar[tuple[str, ...]] = (POWER_ON, POWER_OFF, REBOOT)
    # Powers through the node's running agent, which must still be known when asked.
    acts_through_agent: ClassVar[bool] = False
    # Whether the conductor's power state sync reads this node (Ironic's
    # supports_power_sync).
    power_sync: ClassVar[bool] = True

    @abc.abstractmethod
    async def get_power_state(self, task: Task) -> str: ...

    @abc.abstractmethod
    async def set_power_state(self, task: Task, state: str) -> None: ...

    async def reboot(self, task: Task) -> None:
        await self.set_power_state(task, POWER_OFF)
        await self.set_power_state(task, POWER_ON)

    async def soft_power_off(self, task: Task, timeout: float | None) -> None:
        """Ask the OS to shut down (timeout: seconds to wait; None: the driver's own);
        hardware without the notion powers off."""
        await self.set_power_state(task, POWER_OFF)

    async def soft_reboot(self, task: Task, timeout: float | None) -> None:
        await self.reboot(task)


class ManagementInterface(Interface):
    kind = "management"

    @abc.abstractmethod
    async def set_boot_device(self, task: Task, device: str, persistent: bool = False) -> None:
        ...

    # What /v1/nodes/{node}/management/... read and change. The API calls these in a
    # worker thread, without a conductor: a BMC driver asks its BMC (blocking), the
    # others answer from the node or say what to record on it.
    def supported_boot_devices(self, node: Node) -> tuple[str, ...]:
        raise Unsupported(node.driver, "boot device")

    def boot_device(self, node: Node, settings: DriverSettings) -> dict[str, Any]:
        raise Unsupported(node.driver, "boot device")

    def boot_device_record(self, node: Node, device: str, persistent: bool) -> dict[str, Any]:
        """driver_internal_info keys that make the node boot from device next time."""
        raise Unsupported(node.driver, "boot device")

    def change_boot_device(self, node: Node, settings: DriverSettings, device: str,
                           persistent: bool) -> dict[str, Any]:
        """Make the node boot from device next time; the driver_internal_info keys to
        record (none when a BMC was told)."""
        return self.boot_device_record(node, device, persistent)

    async def set_boot_mode(self, task: Task, mode: str) -> None:
        raise Unsupported(task.node.driver, "boot mode")

    async def set_secure_boot(self, task: Task, enabled: bool) -> None:
        raise Unsupported(task.node.driver, "secure boot")

    def inject_nmi(self, node: Node, settings: DriverSettings) -> None:
        raise Unsupported(node.driver, "inject_nmi")

    # Virtual media (API 1.89, 1.93). The API calls check_vmedia first, so a driver
    # without it (or a node whose driver_info it cannot use) is a 400 before anything
    # is recorded; a conductor then attaches.
    VMEDIA_DEVICES: ClassVar[tuple[str, ...]] = ("disk", "cdrom", "floppy")

    def check_vmedia(self, node: Node, settings: DriverSettings) -> None:
        raise Unsupported(node.driver, "virtual media")

    async def attach_virtual_media(self, task: Task, device_type: str, image_url: str,
                                   download_source: str) -> None:
        raise Unsupported(task.node.driver, "virtual media")

    async def detach_virtual_media(self, task: Task, device_types: list[str] | None) -> None:
        """Eject device_types (None: every device)."""
        raise Unsupported(task.node.driver, "virtual media")

    def virtual_media(self, node: Node, settings: DriverSettings) -> list[dict[str, Any]]:
        """The virtual media devices (media_types, inserted, image); called in a worker
        thread, without a conductor, like boot_device."""
        raise Unsupported(node.driver, "virtual media")


class BootInterface(Interface):
    kind = "boot"

    async def prepare_ramdisk(self, task: Task, params: dict[str, str]) -> None:
        """Make the node boot the deploy ramdisk, whose agent gets params."""

    async def clean_up_ramdisk(self, task: Task) -> None:
        """Remove what prepare_ramdisk put in place."""

    async def prepare_instance(self, task: Task) -> None:
        """Make the node boot the deployed instance."""

    async def clean_up_instance(self, task: Task) -> None:
        """Remove what prepare_instance put in place."""


class DeployInterface(Interface):
    kind = "deploy"
    # The whole deploy (with an agent: boot it, write the image, boot the instance) is
    # one step, at Ironic's priority of deploy.deploy; templates order theirs around it.
    deploy_steps: ClassVar[dict[str, int]] = {"deploy": 100}

    async def execute_deploy_step(self, task: Task, step: str, args: dict[str, Any]
                                  ) -> Outcome:
        if step == "deploy":
            return await self.deploy(task)
        return await super().execute_deploy_step(task, step, args)

    @abc.abstractmethod
    async def deploy(self, task: Task) -> Outcome:
        """Start (or with an agent, continue) writing the instance."""

    async def heartbeat(self, task: Task) -> Outcome:
        """Continue after the agent called back; DONE once the instance is in place."""
        return Outcome.DONE

    async def tear_down(self, task: Task) -> None:
        """Undo the deploy: power off and remove the instance's boot configuration."""

    async def clean(self, task: Task, steps: list[dict[str, Any]] | None) -> Outcome:
        """Run cleaning (automated when steps is None)."""
        return Outcome.DONE

    async def clean_heartbeat(self, task: Task) -> Outcome:
        return Outcome.DONE

    async def abort(self, task: Task) -> None:
        """Stop a deploy waiting for the agent."""

    async def service(self, task: Task, steps: list[dict[str, Any]]) -> Outcome:
        """Run service steps on a deployed node (API 1.87)."""
        raise DriverError(f"Deploy interface {self.name} of node {task.node.uuid} cannot run "
                          f"service steps.")


class InspectInterface(Interface):
    kind = "inspect"

    async def inspect(self, task: Task) -> Outcome:
        return Outcome.DONE


class RescueInterface(Interface):
    kind = "rescue"

    async def rescue(self, task: Task) -> Outcome:
        return Outcome.DONE

    async def unrescue(self, task: Task) -> None:
        return None


class PassiveInterface(Interface):
    """A kind ingot carries for API compatibility with nothing to do (bios, firmware...)."""


class ConsoleInterface(Interface):
    """A serial or graphical console (/v1/nodes/{node}/states/console)."""

    kind = "console"

    def check_console(self, node: Node) -> None:
        """Raise Unsupported unless the node's console can be switched on."""
        raise Unsupported(node.driver, "console")

    def console_info(self, node: Node) -> dict[str, Any]:
        return {}


class RaidInterface(Interface):
    """Target RAID configurations (/v1/nodes/{node}/states/raid)."""

    kind = "raid"
    # Per logical disk key: its description (/v1/drivers/{d}/raid/logical_disk_properties).
    logical_disk_properties: ClassVar[dict[str, str]] = {}

    def check_raid_config(self, node: Node, config: dict[str, Any]) -> None:
        """Raise InvalidParameter if the node cannot build config (Unsupported: no RAID)."""
        raise Unsupported(node.driver, "RAID")


@dataclasses.dataclass(frozen=True, slots=True)
class PassthruMethod:
    """A vendor passthru method, described as Ironic's /vendor_passthru/methods does."""

    run: Callable[[Node | None, dict[str, Any]], Any]
    description: str
    http_methods: tuple[str, ...] = ("POST",)
    is_async: bool = True
    require_exclusive_lock: bool = True
    attach: bool = False

    def describe(self) -> dict[str, Any]:
        return {"async": self.is_async, "attach": self.attach,
                "description": self.description, "http_methods": list(self.http_methods),
                "require_exclusive_lock": self.require_exclusive_lock}


class VendorInterface(Interface):
    """Vendor passthru: methods on a node, and on the driver itself."""

    kind = "vendor"
    node_methods: ClassVar[dict[str, PassthruMethod]] = {}
    driver_methods: ClassVar[dict[str, PassthruMethod]] = {}


@dataclasses.dataclass(frozen=True, slots=True)
class DriverSet:
    """The interface implementations one node uses."""

    hardware_type: str
    power: PowerInterface
    management: ManagementInterface
    boot: BootInterface
    deploy: DeployInterface
    inspect: InspectInterface
    rescue: RescueInterface
    others: dict[str, Interface]

    def all(self) -> dict[str, Interface]:
        return {"boot": self.boot, "deploy": self.deploy, "inspect": self.inspect,
                "management": self.management, "power": self.power,
                "rescue": self.rescue, **self.others}
