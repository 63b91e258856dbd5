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
import threading
import time
from collections.abc import Callable, Sequence

# How much of a dead process's log its exit report carries.
_TAIL_LINES = 5
_TAIL_BYTES = 4096
# Children a watcher thread waits for: only that thread may reap them, or their exit
# code would be lost.
_watched: set[int] = set()
# Every process this process watches, so orphans() leaves them to their watcher.
_watching: set[int] = set()


def _pid_file(run_dir: pathlib.Path, node_uuid: str) -> pathlib.Path:
    return run_dir / f"{node_uuid}.pid"


def running_pid(run_dir: pathlib.Path, node_uuid: str) -> int | None:
    try:
        pid = int(_pid_file(run_dir, node_uuid).read_text())
        cmdline = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if node_uuid.encode() in cmdline and _alive(pid) else None


def _log_file(run_dir: pathlib.Path, node_uuid: str) -> pathlib.Path:
    return run_dir / f"{node_uuid}.log"


def start(run_dir: pathlib.Path, node_uuid: str, argv: Sequence[str], *,
          env: dict[str, str] | None = None,
          on_exit: Callable[[int, str], None] | None = None) -> int:
    """Start argv (which must name the node) as the node's process, replacing any.

    on_exit(exit code, last lines of its log) is called from a thread if the process
    ends by itself, not when stop() ends it.
    """
    if not any(node_uuid in arg for arg in argv):
        raise ValueError("the command line must name the node")
    run_dir.mkdir(parents=True, exist_ok=True)
    stop(run_dir, node_uuid)
    log_path = _log_file(run_dir, node_uuid)
    with open(log_path, "ab") as log:
        offset = log.tell()
        process = subprocess.Popen(list(argv), stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True, env={**os.environ, **(env or {})})
    _wait_for_exec(process.pid)
    pid_file = _pid_file(run_dir, node_uuid)
    pid_file.write_text(str(process.pid))
    if on_exit is not None:
        _watched.add(process.pid)
        _watching.add(process.pid)
        threading.Thread(target=_watch, args=(process, pid_file, log_path, offset, on_exit),
                         name=f"watch-{node_uuid}", daemon=True).start()
    return process.pid


def _wait_for_exec(pid: int, timeout: float = 5.0) -> None:
    """Popen returns once exec has begun, but the kernel sets the new program's
    arguments a moment later: until then /proc/<pid>/cmdline is empty and running_pid
    takes the node for off (a power state read right after power on recorded "power
    off" for a machine that ran)."""
    proc = pathlib.Path(f"/proc/{pid}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if (proc / "cmdline").read_bytes() or "State:\tZ" in (proc / "status").read_text():
                return
        except OSError:
            return  # gone already: running_pid will say so
        time.sleep(0.001)


def _watch(process: subprocess.Popen[bytes], pid_file: pathlib.Path, log_path: pathlib.Path,
           offset: int, on_exit: Callable[[int, str], None]) -> None:
    code = process.wait()
    _watched.discard(process.pid)
    try:
        still_ours = pid_file.read_text() == str(process.pid)
    except OSError:
        still_ours = False
    if still_ours:  # stop() removes the pid file before it signals the process
        on_exit(code, log_tail(log_path, offset))


def log_tail(log_path: pathlib.Path, offset: int = 0) -> str:
    """The last lines the process wrote to its log after offset."""
    try:
        with open(log_path, "rb") as log:
            size = log.seek(0, os.SEEK_END)
            log.seek(max(offset, size - _TAIL_BYTES))
            data = log.read()
    except OSError:
        return ""
    lines = data.decode("utf-8", "replace").splitlines()
    return "\n".join(line for line in lines[-_TAIL_LINES:] if line.strip())


def orphans(run_dir: pathlib.Path) -> dict[str, str]:
    """Nodes whose process ended unwatched (while the conductor that started it was
    down): node uuid -> the last lines of its log. Their pid files remain until stop()."""
    found = {}
    for pid_file in run_dir.glob("*.pid"):
        node_uuid = pid_file.name.removesuffix(".pid")
        try:
            pid = int(pid_file.read_text())
        except (OSError, ValueError):
            continue
        if pid in _watching or running_pid(run_dir, node_uuid) is not None:
            continue
        found[node_uuid] = log_tail(_log_file(run_dir, node_uuid))
    return found


def stop(run_dir: pathlib.Path, node_uuid: str, timeout: float = 10.0) -> bool:
    """Stop the node's process if it runs; True if one was stopped."""
    pid = running_pid(run_dir, node_uuid)
    _pid_file(run_dir, node_uuid).unlink(missing_ok=True)
    if pid is None:
        return False
    # Said in the process's own log, so the log tells what the node did before it
    # lost power.
    with contextlib.suppress(OSError), open(_log_file(run_dir, node_uuid), "a") as log:
        log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} ingot: stopping process {pid} "
                  f"(power off)\n")
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
    # Reap it if it is our child (and no watcher waits for it), then check whether
    # anything is left.
    if pid not in _watched:
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
