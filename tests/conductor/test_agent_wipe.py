"""A power action that ends the running agent forgets its token and URL on the node as it
is in the database, not as the conductor read it: an agent that looked itself up after
that read (the conductor's claim) must not keep its token past the reboot, or the next
agent's lookup gets a masked token and can never heartbeat.

The race is played in order, with the real API app on the same database: the claim's
read, the lookup, then the power action."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from ingot.api.app import create_app
from ingot.api.auth import noauth
from ingot.api.context import ApiSettings
from ingot.common import states
from ingot.common.power import POWER_OFF, POWER_ON, REBOOT, SOFT_REBOOT
from ingot.conductor.settings import ConductorSettings
from ingot.conductor.task import NodeTask
from ingot.db import nodes
from ingot.db.engine import Database
from ingot.drivers.power_actions import node_power_action
from ingot.drivers.services import Services
from ingot.drivers.settings import DriverSettings
from tests.factories import node_row

HOST = "wipe-test"
MASK = "******"


async def _lookup(api: httpx.AsyncClient, node_uuid: str) -> str:
    answer = await api.get("/v1/lookup", params={"node_uuid": node_uuid})
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["config"]["agent_token"]
    return token


async def _heartbeat(api: httpx.AsyncClient, node_uuid: str, token: str) -> int:
    answer = await api.post(f"/v1/heartbeat/{node_uuid}", json={
        "agent_token": token, "callback_url": "http://127.0.0.1:9999"})
    return answer.status_code


@pytest.mark.parametrize("action", [REBOOT, POWER_OFF, SOFT_REBOOT])
def test_an_agent_that_looked_up_after_the_claim_is_forgotten(db: Database,
                                                              action: str) -> None:
    row = node_row(driver="fake-hardware", provision_state=states.DEPLOYWAIT,
                   target_provision_state=states.ACTIVE, power_state=POWER_ON,
                   reservation=HOST)
    with db.write() as conn:
        claimed = nodes.insert(conn, row)  # what the conductor's claim read: no agent
    assert claimed.agent_token is None and claimed.agent_url is None
    settings = ConductorSettings(host=HOST, group="", groups=("",),
                                 hardware_types=("fake-hardware",))
    task = NodeTask(db, settings, claimed, Services(DriverSettings(), db))
    app = create_app(db, ApiSettings(), noauth, drivers=DriverSettings())

    async def play() -> dict[str, Any]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingot",
                                     headers={"X-OpenStack-Ironic-API-Version": "1.68"}
                                     ) as api:
            # The old agent, after the claim: it gets a token and sets its URL.
            old = await _lookup(api, claimed.uuid)
            assert old != MASK
            assert await _heartbeat(api, claimed.uuid, old) == 202
            await node_power_action(task, action)
            task.flush()
            with db.read() as conn:
                stored = nodes.get_by_id(conn, claimed.id)
            assert stored is not None
            # The agent the reboot brings up: a fresh token, which it can heartbeat with.
            new = await _lookup(api, claimed.uuid)
            return {"token": stored.agent_token, "url": stored.agent_url, "old": old,
                    "new": new, "old_beat": await _heartbeat(api, claimed.uuid, old),
                    "new_beat": await _heartbeat(api, claimed.uuid, new)}

    seen = asyncio.run(play())
    assert (seen["token"], seen["url"]) == (None, None), seen
    assert seen["new"] not in (MASK, seen["old"])
    assert (seen["old_beat"], seen["new_beat"]) == (401, 202)
