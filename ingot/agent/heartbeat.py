"""Heartbeats to the Bare Metal API: periodic, sooner while a command reports
progress, and at once when a command finishes (IPA's force_heartbeat)."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from ingot.agent.ironic_client import HeartbeatError, IronicClient, jittered

LOG = logging.getLogger(__name__)

ERROR_INTERVAL = 5.0


@dataclasses.dataclass(frozen=True)
class HeartbeatSettings:
    node_uuid: str
    callback_url: str
    agent_version: str
    heartbeat_timeout: float
    verify_ca: str | None = None  # the PEM of the agent's self-signed certificate
    max_interval: float | None = None  # cap on the interval (CLI --heartbeat-interval)
    progress_interval: float = 5.0  # while a command runs and reports progress


class Heartbeater(threading.Thread):
    def __init__(self, client: IronicClient, token: str, settings: HeartbeatSettings,
                 progress: Callable[[], Mapping[str, Any] | None],
                 busy: Callable[[], bool]):
        super().__init__(name="heartbeater", daemon=True)
        self._client = client
        self._token = token
        self.settings = settings
        self._progress = progress
        self._busy = busy
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._send_progress = True
        self.sent = 0  # successful heartbeats, for tests and logs

    def force(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self.is_alive():
            self.join(timeout=10)

    def _interval(self, ok: bool) -> float:
        settings = self.settings
        interval = jittered(settings.heartbeat_timeout, 0.3, 0.6) if ok else \
            jittered(ERROR_INTERVAL, 1.0, 2.0)
        if ok and self._busy():
            interval = min(interval, settings.progress_interval)
        if settings.max_interval is not None:
            interval = min(interval, settings.max_interval)
        return interval

    def beat(self) -> bool:
        progress = self._progress() if self._send_progress else None
        try:
            self._client.heartbeat(self.settings.node_uuid,
                                   callback_url=self.settings.callback_url,
                                   token=self._token,
                                   agent_version=self.settings.agent_version,
                                   progress=progress, verify_ca=self.settings.verify_ca)
        except HeartbeatError as exc:
            if exc.status == 400 and progress is not None and "agent_progress" in str(exc):
                # An Ironic that does not know ingot's progress field: stop sending it.
                LOG.info("The API does not accept agent_progress; heartbeats go without")
                self._send_progress = False
                return self.beat()
            LOG.warning("Heartbeat for node %s failed: %s", self.settings.node_uuid, exc)
            return False
        self.sent += 1
        LOG.debug("Heartbeat sent")
        return True

    def run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            ok = self.beat()
            self._wake.wait(self._interval(ok))
