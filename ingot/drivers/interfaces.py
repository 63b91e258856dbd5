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
from typing import Any, ClassVar, Protocol

from ingot.common.power import POWER_OFF, POWER_ON
from ingot.db.engine import Database
from ingot.db.models import Node
from ingot.drivers.services import Services
from ingot.drivers.settings import DriverSettings

INTERFACE_KINDS = (
    "bios", "boot", "console", "deploy", "inspect", "management", "network",
    "power", "raid", "rescue", "storage", "vendor",
)


class InvalidParameter(ValueError):
    """driver_info or instance_info is wrong; the message names the field."""


class MissingParameter(InvalidParameter):
    """A required driver_info or instance_info field is absent."""


class DriverError(RuntimeError):
    """A driver operation failed; the message goes to the node's last_error."""


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


class PowerInterface(Interface):
    kind = "power"

    @abc.abstractmethod
    async def get_power_state(self, task: Task) -> str: ...

    @abc.abstractmethod
    async def set_power_state(self, task: Task, state: str) -> None: ...

    async def reboot(self, task: Task) -> None:
        await self.set_power_state(task, POWER_OFF)
        await self.set_power_state(task, POWER_ON)


class ManagementInterface(Interface):
    kind = "management"

    @abc.abstractmethod
    async def set_boot_device(self, task: Task, device: str, persistent: bool = False) -> None:
        ...


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
    """A kind ingot carries for API compatibility with nothing to do (console, raid...)."""


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
