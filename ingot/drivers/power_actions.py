"""Power actions as Ironic's conductor takes them (node_power_action).

A node that powers off or reboots loses its running agent: its token, URL and TLS CA
are wiped first, so the next agent that boots gets a fresh token at lookup and may
heartbeat from a new address with a new certificate. Without this a second boot of
the same node can never heartbeat (its lookup would get a masked token).
"""

from __future__ import annotations

import logging

from ingot.common.power import POWER_OFF, POWER_ON, REBOOT, SOFT_POWER_OFF, SOFT_REBOOT
from ingot.drivers.interfaces import Task

LOG = logging.getLogger(__name__)

_ENDS_THE_AGENT = (POWER_OFF, SOFT_POWER_OFF, REBOOT, SOFT_REBOOT)
# driver_internal_info keys that describe the agent of one boot.
_AGENT_INTERNAL = ("agent_cached_clean_steps",)


def wipe_agent(task: Task) -> None:
    """Forget the running agent: token, URL, TLS CA and the steps it offered.

    The token, URL and CA are cleared on the row as it is when the write lands, whatever
    the task's copy of the node says: an agent may have looked itself up (taking a
    token) or heartbeated (setting its URL) after the conductor read the node, and
    would otherwise keep them past this power action. The write is the task's own,
    conditional on its reservation and committed with its other writes.
    """
    node = task.node
    task.save(agent_token=None, agent_url=None, agent_verify_ca=None)
    # Only a conductor holding the node writes these: the task's copy is current.
    if any(key in node.driver_internal_info for key in _AGENT_INTERNAL):
        task.set_internal(**dict.fromkeys(_AGENT_INTERNAL))


async def node_power_action(task: Task, new_state: str, timeout: float | None = None
                            ) -> None:
    """Power the node on or off, or reboot it; every conductor-side power change goes
    through here."""
    power = task.driver.power
    if new_state in _ENDS_THE_AGENT and not power.acts_through_agent:
        # Also when the node is already off: it may have been powered off outside
        # ingot, and its agent with it. (Power through the agent needs it, and forgets
        # it itself.)
        wipe_agent(task)
    if new_state == POWER_ON:
        # As Ironic: a node already on is left alone (its agent keeps running).
        if await power.get_power_state(task) == POWER_ON:
            LOG.debug("Node %s is already powered on", task.node.uuid)
            return
        await power.set_power_state(task, POWER_ON)
    elif new_state == SOFT_POWER_OFF:
        await power.soft_power_off(task, timeout)
    elif new_state == SOFT_REBOOT:
        await power.soft_reboot(task, timeout)
    elif new_state == POWER_OFF:
        # Always asked for, unlike in Ironic: a node that looks off may have left
        # something behind (a dead agent's pid file), which powering off clears.
        await power.set_power_state(task, POWER_OFF)
    else:
        await power.reboot(task)
