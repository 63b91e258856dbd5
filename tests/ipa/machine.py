"""A "machine" for a deploy agent running on this host: a network namespace joined to
the host by a veth pair (the namespace's end carries the node's port MAC) and a loop
device over a disk file. Names and the /24 are unique per run; everything is removed
on exit, also after failures."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib
import random
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator

from tests.servers.process import unavailable

IPA_REQUIREMENT = "ironic-python-agent==13.0.0"  # the newest that installs on Python 3.11
LAUNCHER = pathlib.Path(__file__).with_name("launcher.py")
TOOLS = ("ip", "unshare", "losetup", "blockdev", "parted", "sgdisk", "udevadm", "wipefs", "sfdisk",
         "blkid")
SBIN = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


@dataclasses.dataclass(frozen=True)
class Machine:
    namespace: str
    host_interface: str
    interface: str  # inside the namespace
    mac: str
    host_ip: str
    ip: str
    disk_file: pathlib.Path
    loop: str


def run(*argv: str, check: bool = True) -> str:
    result = subprocess.run(list(argv), capture_output=True, text=True, timeout=60,
                            check=False, env={**os.environ, "PATH": SBIN})
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {result.stderr.strip()}")
    return result.stdout


def check_tools() -> None:
    missing = [tool for tool in TOOLS if shutil.which(tool, path=SBIN) is None]
    if missing:
        unavailable(f"the agent's machine needs {', '.join(missing)} (Debian packages "
                    f"iproute2, mount, util-linux, parted, gdisk, udev, fdisk)")
    if os.geteuid() != 0:
        unavailable("network namespaces and loop devices need root")


def _free_subnet() -> str:
    used = run("ip", "-4", "-o", "addr", "show") + run("ip", "-4", "route", "show")
    for _ in range(100):
        prefix = f"10.{random.randint(64, 250)}.{random.randint(0, 255)}"
        if f"{prefix}." not in used:
            return prefix
    raise RuntimeError("no free 10.x.y.0/24 for the test machine")


@contextlib.contextmanager
def machine(disk_file: pathlib.Path, size_mib: int, mac: str) -> Iterator[Machine]:
    suffix = f"{os.getpid() % 100000}{random.randrange(16**3):03x}"
    namespace = f"ingot-ipa-{suffix}"
    host_if, guest_if = f"ih{suffix}", f"ig{suffix}"
    prefix = _free_subnet()
    with open(disk_file, "wb") as disk:
        disk.truncate(size_mib << 20)
    loop = None
    try:
        run("ip", "netns", "add", namespace)
        run("ip", "link", "add", host_if, "type", "veth", "peer", "name", guest_if)
        run("ip", "link", "set", guest_if, "netns", namespace)
        inside = ("ip", "netns", "exec", namespace)
        run(*inside, "ip", "link", "set", guest_if, "address", mac)
        run(*inside, "ip", "addr", "add", f"{prefix}.2/24", "dev", guest_if)
        run(*inside, "ip", "link", "set", guest_if, "up")
        run(*inside, "ip", "link", "set", "lo", "up")
        run("ip", "addr", "add", f"{prefix}.1/24", "dev", host_if)
        run("ip", "link", "set", host_if, "up")
        loop = run("losetup", "--find", "--show", "--partscan", str(disk_file)).strip()
        yield Machine(namespace, host_if, guest_if, mac, f"{prefix}.1", f"{prefix}.2",
                      disk_file, loop)
    finally:
        _kill_namespace_processes(namespace)
        if loop:
            run("losetup", "--detach", loop, check=False)
        run("ip", "link", "del", host_if, check=False)
        run("ip", "netns", "del", namespace, check=False)


def _kill_namespace_processes(namespace: str) -> None:
    """What still runs in the namespace (an agent the test left) dies with it."""
    for _ in range(50):
        pids = [int(pid) for pid in run("ip", "netns", "pids", namespace,
                                        check=False).split()]
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)


def ipa_command(ipa_python: pathlib.Path, box: Machine, run_dir: pathlib.Path,
                auto_tls: bool = True) -> str:
    """[local_vm] agent_command that boots the stock IPA on box (see launcher.py)."""
    env = {"INGOT_IPA_DISK": box.loop, "INGOT_IPA_INTERFACE": box.interface,
           "INGOT_IPA_RUN_DIR": str(run_dir), "TMPDIR": str(run_dir), "PATH": SBIN}
    argv = [shutil.which("ip", path=SBIN) or "ip", "netns", "exec", box.namespace,
            "env", *(f"{key}={value}" for key, value in env.items()),
            # Its own PID namespace and /proc, as on a machine: IPA's fuser checks of
            # the disk would otherwise stop at the host's processes it may not read.
            # Killing unshare (power off) kills the agent with it.
            "unshare", "--pid", "--fork", "--kill-child", "--mount-proc",
            str(ipa_python), str(LAUNCHER), "--machine", "{node_uuid}",
            "--api_url", "{api_url}", "--listen_port", "9999",
            # Empty (no inspection) unless the node boots to be inspected.
            "--inspection_callback_url", "{inspection_callback_url}",
            "--enable_auto_tls" if auto_tls else "--noenable_auto_tls", "--debug",
            "--lookup_timeout", "60"]
    return shlex.join(argv)
