"""Processes a test run left behind, found by the INGOT_TEST_RUN=<id> marker every
child of the run inherits (tests/conftest.py sets it).

    python -m tests.servers.leftovers ID   # lists and kills them; exit 1 if any
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import signal
import sys
import time

MARKER = "INGOT_TEST_RUN"


def marked(run_id: str, exclude: set[int] | frozenset[int] = frozenset()) -> dict[int, str]:
    """pid -> command line of the processes carrying run_id's marker, or that of one of
    its parallel workers (<run_id>.<worker>)."""
    needle = f"{MARKER}={run_id}".encode()
    found: dict[int, str] = {}
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in exclude:
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            if not any(var == needle or var.startswith(needle + b".") for var in environ):
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").strip()
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if cmdline:  # zombies have none, and only wait for their parent
            found[int(entry.name)] = cmdline.decode(errors="replace")
    return found


def kill(pids: list[int], timeout: float = 5.0) -> None:
    """SIGTERM, then after timeout SIGKILL, each process and its process group."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if os.getpgid(pid) == pid:
                    os.killpg(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
            time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        status = pathlib.Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in status


def sweep(run_id: str, exclude: set[int] | frozenset[int] = frozenset()) -> dict[int, str]:
    """Kill what carries run_id's marker; what was found."""
    found = marked(run_id, exclude)
    if found:
        kill(list(found))
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0]:
        print("usage: python -m tests.servers.leftovers RUN_ID", file=sys.stderr)
        return 2
    found = sweep(argv[0], exclude={os.getpid()})
    for pid, cmdline in sorted(found.items()):
        print(f"left running by the test run: pid {pid}: {cmdline[:300]}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
