"""fake-hardware: every interface succeeds at once and touches nothing real."""

from __future__ import annotations

from typing import Any

from ingot.common.power import POWER_OFF
from ingot.drivers.interfaces import (
    BootInterface,
    DeployInterface,
    DriverError,
    InspectInterface,
    ManagementInterface,
    Outcome,
    PassiveInterface,
    PowerInterface,
    RescueInterface,
    Task,
)


class FakePower(PowerInterface):
    name = "fake"

    async def get_power_state(self, task: Task) -> str:
        return task.node.power_state or POWER_OFF

    async def set_power_state(self, task: Task, state: str) -> None:
        task.save(power_state=state)


class FakeManagement(ManagementInterface):
    name = "fake"

    async def set_boot_device(self, task: Task, device: str, persistent: bool = False) -> None:
        return None


class FakeBoot(BootInterface):
    name = "fake"


class FakeDeploy(DeployInterface):
    name = "fake"

    async def deploy(self, task: Task) -> Outcome:
        return Outcome.DONE

    async def clean(self, task: Task, steps: list[dict[str, Any]] | None) -> Outcome:
        return Outcome.DONE


class FakeInspect(InspectInterface):
    name = "fake"


class FakeRescue(RescueInterface):
    name = "fake"


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
