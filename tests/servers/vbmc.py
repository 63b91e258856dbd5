"""VirtualBMC (PyPI virtualbmc): IPMI over a libvirt domain. Its daemon ``vbmcd`` is
started by PID with a config of its own (state directory, control port), then
``vbmc add``/``vbmc start`` give the domain a BMC on a free UDP port of 127.0.0.1."""

from __future__ import annotations

import os
import pathlib
import shutil
import socket
import subprocess
import sys

from tests.servers.process import Process, unavailable, wait_until

USERNAME = "ipmiadmin"
PASSWORD = "ipmi-Secret-pw"


def _tool(name: str) -> str:
    return shutil.which(name) or os.path.join(os.path.dirname(sys.executable), name)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class VirtualBmc:
    def __init__(self, workdir: pathlib.Path, domain: str, libvirt_uri: str):
        if not os.path.exists(_tool("vbmcd")):
            unavailable("vbmcd is not installed (PyPI virtualbmc)")
        if shutil.which("ipmitool") is None:
            unavailable("ipmitool is not installed (Debian ipmitool)")
        self.workdir = workdir
        self.domain = domain
        self.libvirt_uri = libvirt_uri
        self.port = free_udp_port()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            control = sock.getsockname()[1]
        (workdir / "vbmc").mkdir(exist_ok=True)  # vbmcd exits without it
        config = workdir / "virtualbmc.conf"
        config.write_text(f"[default]\nconfig_dir = {workdir / 'vbmc'}\n"
                          f"pid_file = {workdir / 'vbmcd.pid'}\nserver_port = {control}\n"
                          f"[log]\nlogfile = {workdir / 'vbmcd-internal.log'}\n")
        self.env = {**os.environ, "VIRTUALBMC_CONFIG": str(config)}
        self.process: Process | None = None

    def _vbmc(self, *args: str) -> None:
        subprocess.run([_tool("vbmc"), *args], env=self.env, check=True, timeout=60,
                       capture_output=True)

    def _answers(self) -> bool:
        done = subprocess.run(
            ["ipmitool", "-I", "lanplus", "-H", "127.0.0.1", "-p", str(self.port),
             "-U", USERNAME, "-E", "-R", "1", "-N", "1", "power", "status"],
            env={**os.environ, "IPMI_PASSWORD": PASSWORD}, capture_output=True, timeout=30,
            check=False)
        return done.returncode == 0

    def start(self) -> VirtualBmc:
        self.process = Process([_tool("vbmcd"), "--foreground"],
                               str(self.workdir / "vbmcd.log"),
                               env={"VIRTUALBMC_CONFIG": self.env["VIRTUALBMC_CONFIG"]})
        wait_until(lambda: subprocess.run([_tool("vbmc"), "list"], env=self.env,
                                          capture_output=True, timeout=30).returncode == 0,
                   30, "vbmcd", interval=0.5)
        self._vbmc("add", self.domain, "--port", str(self.port), "--address", "127.0.0.1",
                   "--username", USERNAME, "--password", PASSWORD,
                   "--libvirt-uri", self.libvirt_uri)
        self._vbmc("start", self.domain)
        wait_until(self._answers, 30, "VirtualBMC's IPMI", interval=0.5)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def log(self) -> str:
        return self.process.log() if self.process else ""

    def __enter__(self) -> VirtualBmc:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
