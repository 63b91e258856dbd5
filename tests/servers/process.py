"""Starting and stopping the real servers tests talk to: by PID, with bounded waits.

Every Process is registered until stopped; ``stop_all`` stops what is left, and
``install_cleanup`` makes it run at exit and on SIGTERM/SIGHUP too, so an interrupted
run leaves no server behind. Every child of a run carries INGOT_TEST_RUN=<id> in its
environment (set by tests/conftest.py), so what escaped anyway (an agent a server
started, a daemon's worker) is found by ``tests/servers/leftovers.py``.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType

import httpx
import pytest


def strict() -> bool:
    """.ci/run sets INGOT_TEST_STRICT=1: a missing server is then a failure, not a skip."""
    return os.environ.get("INGOT_TEST_STRICT") == "1"


def unavailable(message: str) -> None:
    if strict():
        pytest.fail(f"{message} (INGOT_TEST_STRICT=1 makes this server mandatory)")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float, what: str,
               interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready after {timeout} s")


def http_ready(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return httpx.get(url, timeout=1).status_code < 500
        except httpx.HTTPError:
            return False
    return check


class Process:
    """A child process with its output in a log file, stopped by PID."""

    def __init__(self, argv: Sequence[str], log_path: str, env: dict[str, str] | None = None,
                 cwd: str | None = None):
        self.argv = list(argv)
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(self.argv, stdout=self._log, stderr=subprocess.STDOUT,
                                      env={**os.environ, **(env or {})}, cwd=cwd,
                                      start_new_session=True)
        with _lock:
            _running[self.pid] = self

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self, timeout: float = 10.0) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.popen.wait(5)
        with _lock:
            _running.pop(self.pid, None)
        self._log.close()


_lock = threading.Lock()
_running: dict[int, Process] = {}


def stop_all(timeout: float = 5.0) -> list[str]:
    """Stop every Process still registered (each its whole process group); their
    command lines."""
    with _lock:
        registered = list(_running.values())
    left = [process for process in registered if process.alive()]
    for process in registered:
        if process not in left:
            process.stop()  # already gone (killed by its test): just forget it
    for process in left:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in left:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.popen.wait(max(0.0, deadline - time.monotonic()))
    for process in left:
        process.stop(timeout=0)
    return [" ".join(process.argv) for process in left]


_installed = False


def install_cleanup() -> None:
    """stop_all at interpreter exit and on SIGTERM/SIGHUP (SIGINT raises
    KeyboardInterrupt, after which pytest's teardown and atexit run)."""
    global _installed
    if _installed:
        return
    _installed = True
    atexit.register(stop_all)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop_all()
        # Then die of the signal, as without the handler.
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)
