"""The processes standing in for a node's hardware (ingot/drivers/node_processes.py)."""

from __future__ import annotations

import pathlib
import time
import uuid

from ingot.drivers import node_processes


def test_a_started_process_is_running_at_once(tmp_path: pathlib.Path) -> None:
    """Right after start the node reads as powered on: its /proc cmdline is set before
    start returns (it was empty for a moment after Popen, about 1 start in 15 here, and
    a qemu-vm inspected with fast track was recorded "power off" while it ran)."""
    node = str(uuid.uuid4())
    try:
        for _ in range(100):
            pid = node_processes.start(tmp_path, node, ["/bin/sh", "-c", "sleep 30", node])
            assert node_processes.running_pid(tmp_path, node) == pid
    finally:
        node_processes.stop(tmp_path, node)
    assert node_processes.running_pid(tmp_path, node) is None


def test_a_process_that_ends_at_once_is_not_running(tmp_path: pathlib.Path) -> None:
    node = str(uuid.uuid4())
    node_processes.start(tmp_path, node, ["/bin/sh", "-c", "exit 3", node])
    for _ in range(200):  # bounded: a moment for it to end
        if node_processes.running_pid(tmp_path, node) is None:
            break
        time.sleep(0.05)
    assert node_processes.running_pid(tmp_path, node) is None
