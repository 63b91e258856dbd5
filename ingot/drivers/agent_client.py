"""The conductor's client of the deploy agent's command API (ironic-python-agent's).

The agent token travels in the query string, as IPA 13 requires; it is never logged.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx

from ingot.drivers.interfaces import DriverError

RUNNING = "RUNNING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"


@dataclasses.dataclass(frozen=True, slots=True)
class CommandStatus:
    id: str
    name: str
    status: str
    error: str | None
    result: Any

    @classmethod
    def parse(cls, body: dict[str, Any]) -> CommandStatus:
        error = body.get("command_error")
        if isinstance(error, dict):
            message = error.get("details") or error.get("message") or str(error)
        else:
            message = None if error is None else str(error)
        return cls(id=str(body.get("id")), name=str(body.get("command_name")),
                   status=str(body.get("command_status")), error=message,
                   result=body.get("command_result"))


class AgentClient:
    def __init__(self, agent_url: str | None, token: str | None, timeout: float = 60.0):
        if not agent_url:
            raise DriverError("The agent has not reported its URL yet.")
        self.base = agent_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _params(self, **extra: str) -> dict[str, str]:
        params = dict(extra)
        if self.token:
            params["agent_token"] = self.token
        return params

    async def execute(self, name: str, params: dict[str, Any]) -> CommandStatus:
        """Start a command (asynchronously on the agent's side)."""
        body = await self._request("POST", "/v1/commands/", json={"name": name,
                                                                   "params": params})
        return CommandStatus.parse(body)

    async def status(self, command_id: str) -> CommandStatus:
        return CommandStatus.parse(await self._request("GET", f"/v1/commands/{command_id}"))

    async def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        # Agents are reached directly, never through the environment's proxies.
        async with httpx.AsyncClient(timeout=self.timeout, trust_env=False) as client:
            try:
                response = await client.request(method, self.base + path,
                                                params=self._params(), **kwargs)
            except httpx.HTTPError as exc:
                raise DriverError(f"Cannot reach the agent at {self.base}: "
                                  f"{exc.__class__.__name__}") from None
        if response.status_code >= 400:
            raise DriverError(f"The agent at {self.base} answered {response.status_code} to "
                              f"{method} {path}: {_message(response)}")
        body: dict[str, Any] = response.json()
        return body


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        return str(body.get("details") or body.get("message") or body)[:500]
    return str(body)[:500]
