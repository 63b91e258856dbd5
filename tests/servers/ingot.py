"""A real `ingot serve` (or `api`/`conductor`) process with its own config and state."""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import signal
import sys
from typing import Any

import httpx
import sqlalchemy as sa

from ingot.db.models import nodes
from tests.servers.process import Process, free_port, http_ready, wait_until

INGOT = shutil.which("ingot") or os.path.join(os.path.dirname(sys.executable), "ingot")


def write_config(path: pathlib.Path, sections: dict[str, dict[str, Any]]) -> pathlib.Path:
    lines = []
    for section, options in sections.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {value}" for key, value in options.items())
        lines.append("")
    path.write_text("\n".join(lines))
    return path


class IngotServer:
    def __init__(self, workdir: pathlib.Path, *, db_url: str | None = None,
                 command: str = "serve", host: str = "test-conductor",
                 options: dict[str, dict[str, Any]] | None = None):
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        sections: dict[str, dict[str, Any]] = {
            "DEFAULT": {"state_path": workdir / "state", "host": host},
            "api": {"port": self.port},
            "deploy": {"http_port": free_port()},
            "conductor": {"heartbeat_interval": 1, "poll_interval": 0.2},
        }
        self.db_url = db_url or f"sqlite:///{workdir}/state/ingot.sqlite"
        sections["database"] = {"connection": self.db_url}
        for section, values in (options or {}).items():
            sections.setdefault(section, {}).update(values)
        self.port = int(sections["api"]["port"])  # options may choose the port
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = write_config(workdir / "ingot.conf", sections)
        self.command = command
        self.process: Process | None = None

    def start(self, timeout: float = 30) -> IngotServer:
        self.process = Process([INGOT, self.command, "--config-file", str(self.config)],
                               str(self.workdir / f"{self.command}.log"))
        if self.command == "conductor":
            return self
        try:
            wait_until(http_ready(self.url + "/"), timeout, f"ingot {self.command}")
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"ingot did not start:\n{self.process.log()}") from None
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
        # What stands in for nodes' hardware (agents, QEMU) outlives ingot by design, as
        # machines outlive their conductor; a test's machines end with the test.
        for pid_file in (self.workdir / "state" / "local-vm").glob("*.pid"):
            with contextlib.suppress(ValueError, ProcessLookupError, PermissionError):
                os.killpg(int(pid_file.read_text()), signal.SIGTERM)

    def client(self, version: str = "1.73", **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30,
                            headers={"X-OpenStack-Ironic-API-Version": version}, **kwargs)

    def log(self) -> str:
        return self.process.log() if self.process else ""

    def set_node(self, node_uuid: str, **values: Any) -> None:
        """Write a node's columns straight into the server's database (a state the API
        cannot reach, or one a test arranges), bumping its revision as ingot's writes do."""
        engine = sa.create_engine(self.db_url)
        try:
            with engine.begin() as conn:
                conn.execute(nodes.update().where(nodes.c.uuid == node_uuid)
                             .values(revision=nodes.c.revision + 1, **values))
        finally:
            engine.dispose()
