"""Services the benchmarks start: the same launchers the tests use."""

from __future__ import annotations

import contextlib
import pathlib
from collections.abc import Iterator

from tests.servers.ingot import IngotServer


@contextlib.contextmanager
def started_ingot(workdir: pathlib.Path) -> Iterator[tuple[str, int]]:
    """`ingot serve` on its embedded defaults (SQLite), on a free port."""
    server = IngotServer(workdir, host="bench").start()
    try:
        assert server.process is not None
        yield server.url, server.process.pid
    finally:
        server.stop()


@contextlib.contextmanager
def started_ironic(workdir: pathlib.Path) -> Iterator[tuple[str, int]]:
    """A real all-in-one Ironic (noauth, SQLite, fake-hardware), as in the proxy tests."""
    from tests.servers.ironic import IronicServer  # noqa: PLC0415 - needs the ironic venv

    server = IronicServer(workdir).start()
    try:
        yield server.url, server.pid
    finally:
        server.stop()
