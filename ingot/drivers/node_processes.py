"""Processes that stand in for a node's hardware on this host: the agent of a local-vm
node, the QEMU of a qemu-vm node.

A pid file per node lets a restarted conductor find (and stop) what it started before;
the pid is trusted only if that process's command line names the node, so a reused pid
is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import signal
import subprocess
import time
from collections.abc import Sequence


def _pid_file(run_dir: pathlib.Path, node_uuid: str) -> pathlib.Path:
    return run_dir / f"{node_uuid}.pid"


def running_pid(run_dir: pathlib.Path, node_uuid: str) -> int | None:
    try:
        pid = int(_pid_file(run_dir, node_uuid).read_text())
        cmdline = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if node_uuid.encode() in cmdline and _alive(pid) else None


def start(run_dir: pathlib.Path, node_uuid: str, argv: Sequence[str], *,
          env: dict[str, str] | None = None) -> int:
    """Start argv (which must name the node) as the node's process, replacing any."""
    if not any(node_uuid in arg for arg in argv):
        raise ValueError("the command line must name the node")
    run_dir.mkdir(parents=True, exist_ok=True)
    stop(run_dir, node_uuid)
    with open(run_dir / f"{node_uuid}.log", "ab") as log:
        process = subprocess.Popen(list(argv), stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True, env={**os.environ, **(env or {})})
    _pid_file(run_dir, node_uuid).write_text(str(process.pid))
    return process.pid


def stop(run_dir: pathlib.Path, node_uuid: str, timeout: float = 10.0) -> bool:
    """Stop the node's process if it runs; True if one was stopped."""
    pid = running_pid(run_dir, node_uuid)
    _pid_file(run_dir, node_uuid).unlink(missing_ok=True)
    if pid is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    return True


def _alive(pid: int) -> bool:
    # Reap it if it is our child, then check whether anything is left.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = pathlib.Path(f"/proc/{pid}/status")
    try:
        return "State:\tZ" not in status.read_text()
    except OSError:
        return False
