"""The conductor's client of the deploy agent's command API (ironic-python-agent's).

The agent token travels in the query string: IPA 13 reads it from there only
(``request.args`` in its api/app.py), for commands and their status alike. httpx's
request logging is silenced, and errors show the agent's URL without it.
An agent serving https with a self-signed certificate (IPA's auto TLS, ingot's agent)
sends its CA in heartbeats, and is verified against exactly that CA.
"""

from __future__ import annotations

import dataclasses
import os
import ssl
from typing import Any

import httpx

from ingot.common.redaction import redact_url
from ingot.drivers.interfaces import DriverError, Task


class AgentUnreachable(DriverError):
    """No answer at all from the agent's address (gone, or not there yet)."""


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


Verify = ssl.SSLContext | bool


def tls_verify(agent_ca: str | None, driver_info: dict[str, Any], default: str) -> Verify:
    """What to verify the agent's certificate against, in Ironic's order: the CA the
    agent sent, the node's driver_info agent_verify_ca, then [agent] verify_ca."""
    if agent_ca:
        try:
            return ssl.create_default_context(cadata=agent_ca)
        except (ssl.SSLError, ValueError) as exc:
            raise DriverError(f"The agent_verify_ca the agent sent is not a usable CA "
                              f"certificate: {exc}") from None
    value: Any = driver_info.get("agent_verify_ca")
    if value is None:
        value = default
    if isinstance(value, bool):
        return value
    text = str(value).strip()
    if text.lower() in ("true", "1", "yes", "on"):
        return True
    if text.lower() in ("false", "0", "no", "off"):
        return False
    if not os.path.isfile(text):
        raise DriverError(f"agent_verify_ca {text!r} is neither a boolean nor the path of "
                          f"a CA bundle.")
    return ssl.create_default_context(cafile=text)


class AgentClient:
    def __init__(self, agent_url: str | None, token: str | None, timeout: float = 60.0,
                 verify: Verify = True):
        if not agent_url:
            raise DriverError("The agent has not reported its URL yet.")
        self.base = agent_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.verify = verify

    def _params(self, **extra: str) -> dict[str, str]:
        params = dict(extra)
        if self.token:
            params["agent_token"] = self.token
        return params

    async def execute(self, name: str, params: dict[str, Any], *,
                      wait: bool = False) -> CommandStatus:
        """Start a command; with wait, the answer comes once it has finished."""
        extra = {"wait": "true"} if wait else {}
        body = await self._request("POST", "/v1/commands/", json={"name": name,
                                                                   "params": params},
                                   extra=extra)
        return CommandStatus.parse(body)

    async def status(self, command_id: str) -> CommandStatus:
        return CommandStatus.parse(await self._request("GET", f"/v1/commands/{command_id}"))

    async def _request(self, method: str, path: str, *, extra: dict[str, str] | None = None,
                       **kwargs: Any) -> dict[str, Any]:
        where = f"The agent at {redact_url(self.base)}"
        # Agents are reached directly, never through the environment's proxies.
        async with httpx.AsyncClient(timeout=self.timeout, trust_env=False,
                                     verify=self.verify) as client:
            try:
                response = await client.request(method, self.base + path,
                                                params=self._params(**(extra or {})),
                                                **kwargs)
            except httpx.HTTPError as exc:
                raise AgentUnreachable(f"Cannot reach the agent at {redact_url(self.base)}: "
                                       f"{exc.__class__.__name__}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400:
            message = _message(body) if body is not None else "a non-JSON body"
            raise DriverError(f"{where} answered HTTP {response.status_code} with "
                              f"{message}")
        if not isinstance(body, dict):
            what = "a non-JSON body" if body is None else "JSON that is not an object"
            raise DriverError(f"{where} answered HTTP {response.status_code} with {what}")
        return body


def for_task(task: Task) -> AgentClient:
    """The client of the node's running agent, verified as its settings say."""
    node, settings = task.node, task.services.settings.agent
    verify = tls_verify(node.agent_verify_ca, node.driver_info, settings.verify_ca)
    return AgentClient(node.agent_url, node.agent_token, timeout=settings.command_timeout,
                       verify=verify)


def _message(body: Any) -> str:
    """The agent's own error message (IPA: faultstring), redacted and bounded."""
    if isinstance(body, dict):
        text = body.get("faultstring") or body.get("details") or body.get("message") or body
    else:
        text = body
    return f"the error: {redact_url(str(text))[:500]}"
