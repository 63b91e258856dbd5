"""The agent's side of the Bare Metal API: version negotiation, lookup and heartbeat."""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

LOG = logging.getLogger(__name__)

# The versions IPA uses: tokens from 1.62, agent_verify_ca (the newest field) at 1.68.
TOKEN_VERSION = (1, 62)
TLS_VERSION = (1, 68)
MAX_VERSION = (1, 68)
MASKED_TOKEN = "******"


class LookupFailed(RuntimeError):
    """The node could not be looked up (in time), or without a usable token."""


class HeartbeatError(RuntimeError):
    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclasses.dataclass(frozen=True)
class LookupResult:
    node_uuid: str
    agent_token: str
    heartbeat_timeout: float
    allow_md5: bool
    node: Mapping[str, Any]

    def __repr__(self) -> str:  # never print the token
        return f"LookupResult(node_uuid={self.node_uuid!r}, heartbeat_timeout=" \
               f"{self.heartbeat_timeout!r})"


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:300]}"
    if isinstance(body, dict):
        message = body.get("error_message", body)
        if isinstance(message, dict):
            text = message.get("faultstring") or message.get("title") or str(message)
        else:
            text = str(message)
        return f"HTTP {response.status_code}: {text[:300]}"
    return f"HTTP {response.status_code}"


class IronicClient:
    def __init__(self, api_url: str, *, timeout: float = 30.0):
        self.api_url = api_url.rstrip("/")
        # The API is reached directly, never through the environment's proxies.
        self._http = httpx.Client(timeout=timeout, trust_env=False,
                                  headers={"Accept": "application/json"})
        self.version: tuple[int, int] | None = None

    def close(self) -> None:
        self._http.close()

    def _header(self) -> dict[str, str]:
        assert self.version is not None
        major, minor = self.version
        return {"X-OpenStack-Ironic-API-Version": f"{major}.{minor}"}

    def negotiate(self) -> tuple[int, int]:
        """The microversion to use: the server's newest, capped at what we know."""
        response = self._http.get(f"{self.api_url}/v1")
        response.raise_for_status()
        body = response.json()
        text = (body.get("version") or {}).get("version")
        if not text:
            response = self._http.get(f"{self.api_url}/")
            response.raise_for_status()
            text = (response.json().get("default_version") or {}).get("version")
        major, minor = (int(part) for part in str(text).split("."))
        self.version = min((major, minor), MAX_VERSION)
        if self.version < TOKEN_VERSION:
            raise LookupFailed(f"The Bare Metal API at {self.api_url} offers version "
                               f"{major}.{minor}; the agent needs 1.62 (agent tokens).")
        return self.version

    def lookup(self, macs: Sequence[str], node_uuid: str | None, *, timeout: float,
               preset_token: str | None = None, interval: float = 1.0,
               max_interval: float = 10.0) -> LookupResult:
        """Look the node up until found, retrying (with backoff) until ``timeout``.

        ``preset_token`` is a token the conductor generated and handed to this agent
        (IPA's ``ipa-agent-token``); the lookup then answers with a masked token.
        """
        deadline = time.monotonic() + timeout
        params = {"addresses": ",".join(macs)}
        if node_uuid:
            params["node_uuid"] = node_uuid
        delay = interval
        while True:
            try:
                if self.version is None:
                    self.negotiate()
                response = self._http.get(f"{self.api_url}/v1/lookup", params=params,
                                          headers=self._header())
                if response.status_code == 200:
                    return self._lookup_result(response.json(), preset_token)
                problem = _error_text(response)
            except (httpx.HTTPError, ValueError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LookupFailed(f"Lookup of {params['addresses'] or node_uuid} at "
                                   f"{self.api_url} failed for {timeout:.0f} s: {problem}")
            LOG.info("Lookup not successful yet (%s); retrying in %.1f s", problem, delay)
            time.sleep(min(delay, remaining))
            delay = min(max_interval, delay * 1.5)

    def _lookup_result(self, body: Mapping[str, Any], preset_token: str | None
                       ) -> LookupResult:
        node = body.get("node") or {}
        config = body.get("config") or {}
        token = config.get("agent_token")
        if not node.get("uuid"):
            raise LookupFailed("The lookup answer has no node UUID.")
        if (not token or token == MASKED_TOKEN) and preset_token:
            token = preset_token
        elif not token or token == MASKED_TOKEN:
            # Someone else (an earlier agent) already holds the token: we could never
            # heartbeat, and must not pretend to be that agent.
            raise LookupFailed(f"Node {node['uuid']}: the agent token was already issued "
                               f"to another agent; cannot continue.")
        return LookupResult(node["uuid"], token,
                            float(config.get("heartbeat_timeout") or 300),
                            bool(config.get("agent_md5_checksum_enable", False)), node)

    def heartbeat(self, node_uuid: str, *, callback_url: str, token: str,
                  agent_version: str, progress: Mapping[str, Any] | None,
                  verify_ca: str | None = None) -> None:
        body: dict[str, Any] = {"callback_url": callback_url, "agent_token": token,
                                "agent_version": agent_version}
        if verify_ca:
            body["agent_verify_ca"] = verify_ca
        if progress is not None:
            body["agent_progress"] = dict(progress)
        try:
            response = self._http.post(f"{self.api_url}/v1/heartbeat/{node_uuid}",
                                       json=body, headers=self._header())
        except httpx.HTTPError as exc:
            raise HeartbeatError(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code != 202:
            raise HeartbeatError(_error_text(response), response.status_code)


def jittered(value: float, low: float, high: float) -> float:
    """As IPA: spread agents' heartbeats so a fleet does not beat in step."""
    return value * random.uniform(low, high)
