"""Run only by tests/test_cleanup.py, in a pytest it then interrupts (the name keeps it
out of normal collection): starts a session server (`ingot serve`) and a plain child
process, says so, and waits to be interrupted."""

from __future__ import annotations

import os
import pathlib
import time

from tests.servers.ingot import IngotServer
from tests.servers.process import Process


def test_wait_to_be_interrupted(ingot: IngotServer, tmp_path: pathlib.Path) -> None:
    child = Process(["sleep", "600"], str(tmp_path / "sleep.log"))
    ready = pathlib.Path(os.environ["INGOT_TEST_READY_FILE"])
    ready.write_text(f"{ingot.process.pid if ingot.process else 0} {child.pid}")
    time.sleep(300)
