"""The ``agent`` power interface, Ironic's: power through the node's running agent.

For machines without a BMC ingot can drive, booted into the agent some other way and
kept running with [deploy] fast_track. The only power action is a reboot, which asks
the agent to boot what it wrote (``standby.run_image``); powering on or off cannot be
done. The deploy then ends as Ironic's does for such interfaces: the agent flushes its
writes (``standby.sync``) and reboots the machine into the instance.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import ClassVar

from ingot.common.power import POWER_ON, REBOOT, SOFT_POWER_OFF, SOFT_REBOOT
from ingot.db.models import Node
from ingot.drivers.agent_client import AgentClient, AgentUnreachable, for_task
from ingot.drivers.fast_track import agent_is_alive
from ingot.drivers.interfaces import DriverError, InvalidParameter, PowerInterface, Task
from ingot.drivers.power_actions import wipe_agent
from ingot.drivers.settings import DriverSettings

LOG = logging.getLogger(__name__)


class AgentPower(PowerInterface):
    name = "agent"
    acts_through_agent = True
    power_sync = False  # nothing to read while no agent runs
    supported_power_states: ClassVar[tuple[str, ...]] = (REBOOT, SOFT_REBOOT)

    def validate(self, node: Node, settings: DriverSettings) -> None:
        if not settings.deploy.fast_track:
            raise InvalidParameter("Fast track mode must be enabled to use the agent power "
                                   "interface ([deploy] fast_track).")
        if not agent_is_alive(node, settings.deploy):
            raise InvalidParameter(f"Agent seems offline for node {node.uuid}, the agent "
                                   f"power interface cannot be used.")

    async def get_power_state(self, task: Task) -> str:
        if agent_is_alive(task.node, task.services.settings.deploy):
            return POWER_ON
        # Without an agent nothing can be read: what the last reboot left, if any.
        if task.node.power_state:
            return task.node.power_state
        raise DriverError(f"Node {task.node.uuid} has no running agent: the agent power "
                          f"interface cannot tell its power state.")

    async def set_power_state(self, task: Task, state: str) -> None:
        if state not in self.supported_power_states:
            raise DriverError(f"The agent power interface cannot set node {task.node.uuid} "
                              f"to {state}: it can only reboot it through its agent.")
        await self.reboot(task)

    async def reboot(self, task: Task) -> None:
        agent = for_task(task)
        await agent.execute("standby.run_image", {})
        # The rebooted machine's next agent gets a new token and may have a new URL;
        # the machine stays on, in what the agent wrote.
        wipe_agent(task)
        task.save(power_state=POWER_ON)
        settings = task.services.settings.agent
        await _wait_gone(agent, settings.post_deploy_get_power_state_retry_interval
                         * settings.post_deploy_get_power_state_retries, task.node.uuid)

    async def soft_reboot(self, task: Task, timeout: float | None) -> None:
        await self.reboot(task)

    async def soft_power_off(self, task: Task, timeout: float | None) -> None:
        await self.set_power_state(task, SOFT_POWER_OFF)


async def _wait_gone(agent: AgentClient, timeout: float, node_uuid: str) -> None:
    """Until the agent stops answering (the machine went down), at most timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            await agent.status("-")
        except AgentUnreachable:
            return
        except DriverError:
            pass  # an answer, even an error: it still runs
        await asyncio.sleep(0.5)
    LOG.warning("The agent of node %s still answered %.0f s after standby.run_image",
                node_uuid, timeout)
