"""A test run stops every server it started, also when it is interrupted."""

from __future__ import annotations

import os
import pathlib
import secrets
import signal
import subprocess
import sys

import pytest

from tests.servers import leftovers
from tests.servers.process import wait_until

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_interrupted_run_leaves_no_server(tmp_path: pathlib.Path, sig: int) -> None:
    run_id = f"interrupted-{secrets.token_hex(4)}"
    ready = tmp_path / "ready"
    env = {**os.environ, "INGOT_TEST_RUN_ID": run_id, "INGOT_TEST_READY_FILE": str(ready)}
    pytest_run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-k", "sqlite",
         "--basetemp", str(tmp_path / "inner"), "tests/interrupted_run.py"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
        # A run started in the background by a shell inherits SIGINT ignored, and
        # Python then installs no KeyboardInterrupt handler: give the inner run the default.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        wait_until(lambda: ready.exists() and ready.read_text() != "", 90,
                   "the inner run's servers", interval=0.2)
        server_pid, child_pid = map(int, ready.read_text().split())
        running = leftovers.marked(run_id)
        assert server_pid in running and child_pid in running, running
        # As a CI timeout or an operator would: the signal to pytest alone.
        os.kill(pytest_run.pid, sig)
        # Teardown stops real servers; generous for a loaded machine.
        output, _ = pytest_run.communicate(timeout=180)
    finally:
        if pytest_run.poll() is None:
            os.killpg(pytest_run.pid, signal.SIGKILL)
            pytest_run.wait(10)
    assert pytest_run.returncode != 0
    left = leftovers.marked(run_id)
    assert left == {}, f"{left}\n{output.decode(errors='replace')[-2000:]}"


def test_leftovers_finds_and_kills_marked_processes(tmp_path: pathlib.Path) -> None:
    run_id = f"leftover-{secrets.token_hex(4)}"

    def orphan(marker: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(["sleep", "600"], env={**os.environ, leftovers.MARKER: marker},
                                start_new_session=True)

    # The run's own, one of its parallel workers', and another run's whose id only
    # starts like this one's.
    mine, workers, other = orphan(run_id), orphan(f"{run_id}.gw1"), orphan(f"{run_id}0")
    try:
        result = subprocess.run([sys.executable, "-m", "tests.servers.leftovers", run_id],
                                cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert result.returncode == 1
        assert f"pid {mine.pid}: sleep 600" in result.stderr
        assert f"pid {workers.pid}: sleep 600" in result.stderr
        assert f"pid {other.pid}:" not in result.stderr
        assert mine.wait(10) == -signal.SIGTERM
        assert workers.wait(10) == -signal.SIGTERM
        assert other.poll() is None
        clean = subprocess.run([sys.executable, "-m", "tests.servers.leftovers", run_id],
                               cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert clean.returncode == 0, clean.stderr
    finally:
        for process in (mine, workers, other):
            if process.poll() is None:
                process.kill()
                process.wait(10)
