"""conductor/actions.py on a real database: what each action does to the node.

A scripted hardware type (registered here, as a new hardware type would be) decides how
each driver call ends, and records the calls, so the failure paths run without QEMU.
"""

from __future__ import annotations

import asyncio
import pathlib
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from ingot.common import states
from ingot.common.power import POWER_OFF, POWER_ON, REBOOT, SOFT_POWER_OFF
from ingot.conductor import actions
from ingot.conductor.settings import ConductorSettings
from ingot.conductor.task import NodeTask
from ingot.db import migrate, nodes
from ingot.db.engine import Database
from ingot.db.models import Node
from ingot.drivers import fake, hardware
from ingot.drivers.interfaces import DriverError, InvalidParameter, Outcome, Task
from ingot.drivers.services import Services
from ingot.drivers.settings import DriverSettings
from tests.factories import node_row

HOST = "actions-test"


class Script:
    """How the scripted driver's calls end, and which calls were made."""

    deploy: ClassVar[Outcome | Exception] = Outcome.DONE
    heartbeat: ClassVar[Outcome | Exception] = Outcome.DONE
    clean: ClassVar[Outcome | Exception] = Outcome.DONE
    invalid: ClassVar[str | None] = None
    calls: ClassVar[list[str]] = []

    @classmethod
    def reset(cls) -> None:
        cls.deploy = cls.heartbeat = cls.clean = Outcome.DONE
        cls.invalid = None
        cls.calls = []


def _play(result: Outcome | Exception) -> Outcome:
    if isinstance(result, Exception):
        raise result
    return result


class ScriptedPower(fake.FakePower):
    name = "scripted"

    async def set_power_state(self, task: Task, state: str) -> None:
        Script.calls.append(f"power {state}")
        await super().set_power_state(task, state)


class ScriptedDeploy(fake.FakeDeploy):
    name = "scripted"

    def validate(self, node: Node, settings: DriverSettings) -> None:
        if Script.invalid:
            raise InvalidParameter(Script.invalid)

    async def deploy(self, task: Task) -> Outcome:
        Script.calls.append("deploy")
        return _play(Script.deploy)

    async def heartbeat(self, task: Task) -> Outcome:
        Script.calls.append("heartbeat")
        return _play(Script.heartbeat)

    async def clean(self, task: Task, steps: list[dict[str, Any]] | None) -> Outcome:
        Script.calls.append(f"clean {steps}")
        return _play(Script.clean)

    async def clean_heartbeat(self, task: Task) -> Outcome:
        Script.calls.append("clean heartbeat")
        return _play(Script.heartbeat)

    async def tear_down(self, task: Task) -> None:
        Script.calls.append("tear down")

    async def abort(self, task: Task) -> None:
        Script.calls.append("abort")
        await task.driver.power.set_power_state(task, POWER_OFF)


hardware.register(hardware.HardwareType("scripted-hardware", {
    **hardware.FAKE_HARDWARE.supported,
    "power": (ScriptedPower,),
    "deploy": (ScriptedDeploy,),
}))


@pytest.fixture
def db(tmp_path: pathlib.Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path}/actions.sqlite")
    migrate.upgrade(database)
    Script.reset()
    yield database
    database.dispose()


def _task(db: Database, state: str, *, automated_clean: bool = True,
          **values: Any) -> NodeTask:
    interfaces = {"power_interface": "scripted", "deploy_interface": "scripted",
                  "inspect_interface": "no-inspect"}
    row = node_row(driver="scripted-hardware", provision_state=state,
                   target_provision_state=states.target_of(state), reservation=HOST,
                   power_state=POWER_ON, **{**interfaces, **values})
    with db.write() as conn:
        node = nodes.insert(conn, row)
    settings = ConductorSettings(host=HOST, group="", groups=("",),
                                 hardware_types=("scripted-hardware",),
                                 automated_clean=automated_clean)
    return NodeTask(db, settings, node, Services(DriverSettings(), db))


def _stored(task: NodeTask) -> Node:
    # An action's writes are batched; the service's release() would commit them.
    task.flush()
    with task.db.read() as conn:
        node = nodes.get_by_id(conn, task.node.id)
    assert node is not None
    return node


def test_every_verb_and_pending_action_has_an_action() -> None:
    named = {verb.action for verb in states.VERBS.values() if verb.action}
    assert named <= set(actions.ACTIONS)


def test_deploy_done_makes_the_node_active(db: Database) -> None:
    task = _task(db, states.DEPLOYING)
    asyncio.run(actions.deploy(task, {}))
    node = _stored(task)
    assert (node.provision_state, node.target_provision_state) == (states.ACTIVE, None)
    assert node.deploy_step == {}
    assert Script.calls == ["deploy"]


def test_deploy_waiting_for_the_agent_then_its_heartbeat(db: Database) -> None:
    Script.deploy = Outcome.WAIT
    task = _task(db, states.DEPLOYING)
    asyncio.run(actions.deploy(task, {}))
    assert _stored(task).provision_state == states.DEPLOYWAIT
    asyncio.run(actions.continue_deploy(task, {}))
    assert _stored(task).provision_state == states.ACTIVE
    assert Script.calls == ["deploy", "heartbeat"]


def test_a_failed_deploy_stops_the_node_and_keeps_the_error(db: Database) -> None:
    Script.deploy = DriverError("the image is gone")
    task = _task(db, states.DEPLOYING)
    with pytest.raises(DriverError, match="the image is gone"):
        asyncio.run(actions.deploy(task, {}))
    # The abort ran and the power state it left is recorded; the service then moves the
    # node to its failure state with the original error.
    assert Script.calls == ["deploy", "abort", f"power {POWER_OFF}"]
    assert _stored(task).power_state == POWER_OFF


def test_an_invalid_node_fails_before_the_driver_runs(db: Database) -> None:
    Script.invalid = "instance_info image_source is missing"
    task = _task(db, states.DEPLOYING)
    with pytest.raises(DriverError, match=r"Failed to validate deploy interface .*missing"):
        asyncio.run(actions.deploy(task, {}))
    assert Script.calls == []


def test_a_late_heartbeat_changes_nothing(db: Database) -> None:
    task = _task(db, states.ACTIVE)
    asyncio.run(actions.continue_deploy(task, {}))
    assert _stored(task).provision_state == states.ACTIVE
    assert Script.calls == []


def test_undeploy_tears_down_then_cleans(db: Database) -> None:
    task = _task(db, states.DELETING, instance_info={"image_source": "http://x/y"},
                 instance_uuid="0d6bbd39-ba36-4b0e-8d5b-2e04ab13e7f3")
    asyncio.run(actions.undeploy(task, {}))
    node = _stored(task)
    assert node.provision_state == states.AVAILABLE
    assert (node.instance_info, node.instance_uuid) == ({}, None)
    assert Script.calls == ["tear down", "clean None"]


def test_cleaning_disabled_skips_the_driver(db: Database) -> None:
    task = _task(db, states.CLEANING, automated_clean=False)
    asyncio.run(actions.clean(task, {}))
    assert _stored(task).provision_state == states.AVAILABLE
    assert Script.calls == []


def test_manual_cleaning_returns_to_manageable(db: Database) -> None:
    steps = [{"interface": "deploy", "step": "erase_devices_metadata"}]
    task = _task(db, states.CLEANING, automated_clean=False)
    task.save(target_provision_state=states.MANAGEABLE)
    asyncio.run(actions.clean(task, {"clean_steps": steps}))
    assert _stored(task).provision_state == states.MANAGEABLE
    assert Script.calls == [f"clean {steps}"]


@pytest.mark.parametrize(("target", "calls", "final"), [
    (POWER_OFF, [f"power {POWER_OFF}"], POWER_OFF),
    (SOFT_POWER_OFF, [f"power {POWER_OFF}"], POWER_OFF),
    (REBOOT, [f"power {POWER_OFF}", f"power {POWER_ON}"], POWER_ON),
])
def test_power_actions(db: Database, target: str, calls: list[str], final: str) -> None:
    task = _task(db, states.AVAILABLE)
    task.save(target_power_state=target)
    asyncio.run(actions.power(task, {"target": target}))
    node = _stored(task)
    assert (node.power_state, node.target_power_state) == (final, None)
    assert Script.calls == calls


def test_inspection_unsupported_names_the_hardware_type(db: Database) -> None:
    task = _task(db, states.INSPECTING)
    with pytest.raises(DriverError, match="scripted-hardware does not support inspection"):
        asyncio.run(actions.inspect(task, {}))
