"""[deploy] fast_track, as in Ironic: an agent that is still running (powered on,
heartbeating within fast_track_timeout) is used for the next operation instead of
rebooting the node into a new one."""

from __future__ import annotations

import datetime

from ingot.common.power import POWER_ON
from ingot.db.models import Node, utcnow
from ingot.drivers.interfaces import Task
from ingot.drivers.settings import DeploySettings


def fast_track_able(node: Node, settings: DeploySettings) -> bool:
    """Configured for it, and nothing failed since (a failure warrants a fresh boot)."""
    return settings.fast_track and node.last_error is None


def agent_is_alive(node: Node, settings: DeploySettings) -> bool:
    last = node.agent_last_heartbeat
    if not node.agent_url or not node.agent_token or last is None:
        return False
    return utcnow() - last <= datetime.timedelta(seconds=settings.fast_track_timeout)


async def is_fast_track(task: Task) -> bool:
    settings = task.services.settings.deploy
    if not fast_track_able(task.node, settings) or not agent_is_alive(task.node, settings):
        return False
    return await task.driver.power.get_power_state(task) == POWER_ON
