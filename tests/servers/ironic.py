"""A real OpenStack Ironic (pip package ``ironic``) as a peer site: all in one process,
noauth, SQLite, fake-hardware.

Ironic lives in a venv of its own (tests.servers.venvs, under ~/.cache/ingot-tests),
installed once and reused: its dependencies (eventlet, oslo.*, pecan, ...) must not
touch ingot's venv, and a fresh CI machine must be able to build it.
"""

from __future__ import annotations

import pathlib
import subprocess

import httpx

from tests.servers import venvs
from tests.servers.process import Process, free_port, http_ready, wait_until

IRONIC_REQUIREMENT = "ironic==39.0.0"

_FAKE_INTERFACES = ("boot", "deploy", "power", "management", "inspect", "console", "raid",
                    "bios", "vendor", "rescue", "firmware")


class IronicUnavailable(RuntimeError):
    """Ironic could not be installed or started here; the message says why."""


def ironic_venv() -> pathlib.Path:
    """The venv holding Ironic, installed on first use."""
    try:
        return venvs.ensure("ironic", [IRONIC_REQUIREMENT])
    except venvs.InstallFailed as exc:
        raise IronicUnavailable(f"cannot install {IRONIC_REQUIREMENT}: {exc}") from None


def _config(workdir: pathlib.Path, port: int, conductor_group: str, host: str) -> str:
    default = {
        "rpc_transport": "none", "auth_strategy": "noauth", "host": host,
        "enabled_hardware_types": "fake-hardware",
        "enabled_storage_interfaces": "noop", "enabled_network_interfaces": "noop",
        "default_storage_interface": "noop", "default_network_interface": "noop",
        "use_stderr": "true",
    }
    for kind in _FAKE_INTERFACES:
        default[f"enabled_{kind}_interfaces"] = "fake"
        default[f"default_{kind}_interface"] = "fake"
    sections = {
        "DEFAULT": default,
        "conductor": {"conductor_group": conductor_group, "heartbeat_interval": "2",
                      "sync_power_state_interval": "-1"},
        "dhcp": {"dhcp_provider": "none"},
        "api": {"host_ip": "127.0.0.1", "port": str(port)},
        "database": {"connection": f"sqlite:///{workdir / 'ironic.sqlite'}"},
        "oslo_concurrency": {"lock_path": str(workdir / "locks")},
    }
    return "".join(f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in values.items()) + "\n"
                   for name, values in sections.items())


class IronicServer:
    """``ironic`` (API and conductor in one process) on a free port with its own SQLite."""

    def __init__(self, workdir: pathlib.Path, *, conductor_group: str = "",
                 host: str = "ironic-conductor"):
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.host = host
        self.config = workdir / "ironic.conf"
        self.config.write_text(_config(workdir, self.port, conductor_group, host))
        self.process: Process | None = None
        self._schema = False

    def start(self, timeout: float = 90) -> IronicServer:
        venv = ironic_venv()
        if not self._schema:
            result = subprocess.run([str(venv / "bin" / "ironic-dbsync"), "--config-file",
                                     str(self.config), "create_schema"],
                                    capture_output=True, text=True, timeout=120)
            if result.returncode != 0:
                raise IronicUnavailable(f"ironic-dbsync create_schema failed:\n"
                                        f"{result.stderr[-2000:]}")
            self._schema = True
        self.process = Process([str(venv / "bin" / "ironic"), "--config-file",
                                str(self.config)], str(self.workdir / "ironic.log"),
                               env={"PYTHONWARNINGS": "ignore"})
        try:
            wait_until(http_ready(self.url + "/"), timeout, "ironic")
        except TimeoutError:
            log = self.process.log()[-4000:]
            self.stop()
            raise IronicUnavailable(f"ironic did not answer within {timeout} s:\n{log}") \
                from None
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def client(self, version: str = "1.73") -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30,
                            headers={"X-OpenStack-Ironic-API-Version": version})

    def log(self) -> str:
        return self.process.log() if self.process else \
            (self.workdir / "ironic.log").read_text(errors="replace")
