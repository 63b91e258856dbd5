"""The ``agent`` inspect interface, as Ironic's: boot the agent ramdisk with
``ipa-inspection-callback-url`` pointing at ingot's /v1/continue_inspection; the agent
posts its inventory there and the conductor processes it (continue_inspection)."""

from __future__ import annotations

from ingot.common.power import REBOOT
from ingot.drivers.interfaces import InspectInterface, Outcome, Task
from ingot.drivers.power_actions import node_power_action

CALLBACK_PARAM = "ipa-inspection-callback-url"


def callback_url(api_url: str) -> str:
    return f"{api_url}/v1/continue_inspection"


class AgentInspect(InspectInterface):
    name = "agent"

    async def inspect(self, task: Task) -> Outcome:
        endpoints = task.services.settings.endpoints
        await task.driver.boot.prepare_ramdisk(task, {
            **endpoints.ramdisk_params, CALLBACK_PARAM: callback_url(endpoints.api_url)})
        await node_power_action(task, REBOOT)
        return Outcome.WAIT
