"""Shared fixtures: real ingot servers on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import pathlib
import secrets
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from ingot.db import migrate
from ingot.db.engine import Database
from tests.servers import leftovers
from tests.servers.glance import GlanceServer, GlanceUnavailable
from tests.servers.ingot import IngotServer
from tests.servers.origin import Origin, running_origin
from tests.servers.postgres import temporary_database
from tests.servers.process import install_cleanup, stop_all, unavailable
from tests.servers.swift import SwiftServer, SwiftUnavailable
from tests.ui import browser as chromium

if TYPE_CHECKING:
    from playwright.sync_api import Browser

# Every process this run starts inherits the marker, so whatever outlives the run can
# be found (tests/servers/leftovers.py, .ci/run). INGOT_TEST_RUN_ID chooses the id.
_PARENT_RUN_ID = os.environ.get(leftovers.MARKER)  # an xdist worker's: its controller's
RUN_ID = os.environ.get("INGOT_TEST_RUN_ID") or f"{os.getpid()}-{secrets.token_hex(4)}"
os.environ[leftovers.MARKER] = RUN_ID
install_cleanup()


def pytest_configure(config: pytest.Config) -> None:
    """An xdist worker marks what it starts <run id>.<worker id>: its own sweep at the end
    then spares the servers of the workers still running, and a sweep of the run's id
    (.ci/run's) still finds everything."""
    global RUN_ID
    worker = getattr(config, "workerinput", {}).get("workerid")
    if worker:
        RUN_ID = f"{_PARENT_RUN_ID or RUN_ID}.{worker}"
        os.environ[leftovers.MARKER] = RUN_ID


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop what the fixtures' teardown did not (an interrupted run, an agent a server
    started and nothing stopped), and say so."""
    stopped = stop_all()
    # An xdist controller starts nothing itself; a sweep of its id would also hit the
    # workers, which sweep their own.
    distributing = session.config.pluginmanager.has_plugin("dsession")
    swept = {} if distributing else leftovers.sweep(RUN_ID, exclude={os.getpid()})
    for what in [*stopped, *swept.values()]:
        if "multiprocessing.resource_tracker" in what:
            continue  # the pytest process's own helper (a spawn Pool), ending with it
        print(f"\nstopped a process the tests left running: {what[:300]}", file=sys.stderr)


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
# Longer than any test run: bounded (boot configs' URL lifetimes derive from it), but
# never reached.
SESSION_CALLBACK_TIMEOUT = 24 * 3600


@contextlib.contextmanager
def database_url(backend: str, workdir: pathlib.Path) -> Iterator[str]:
    if backend == "postgresql":
        with temporary_database() as url:
            yield url
    else:
        yield f"sqlite:///{workdir}/ingot.sqlite"


@contextlib.contextmanager
def running_ingot(backend: str, workdir: pathlib.Path, **kwargs: object) -> Iterator[IngotServer]:
    with database_url(backend, workdir) as url:
        server = IngotServer(workdir, db_url=url, **kwargs).start()  # type: ignore[arg-type]
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db(backend: str, tmp_path: pathlib.Path) -> Iterator[Database]:
    """A database at ingot's latest schema on each backend (SQLite file, PostgreSQL),
    for tests of the code below the API; a module may define its own db instead."""
    with database_url(backend, tmp_path) as url:
        database = Database(url)
        migrate.upgrade(database)
        try:
            yield database
        finally:
            database.dispose()


@pytest.fixture(scope="session")
def ingot(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngotServer]:
    """One `ingot serve` per database backend, shared by the tests of a session.

    Its database changes only through the tests' requests: no power state sync and no
    agent callback timeout acting on their nodes by themselves. Tests that leave a node
    in a state those act on (made available without a power state, waiting for an
    agent that never comes) would otherwise change rows 60 s or 30 min later, under
    whichever test of the same worker compares the whole database then (snapshot).
    Those timers have tests with servers of their own."""
    options = {"conductor": {"sync_power_state_interval": 0,
                             "deploy_callback_timeout": SESSION_CALLBACK_TIMEOUT}}
    with running_ingot(backend, tmp_path_factory.mktemp(f"ingot-{backend}"),
                       options=options) as server:
        yield server


@pytest.fixture
def origin() -> Iterator[Origin]:
    """A real HTTP origin in this process (tests/servers/origin.py) that serves the files a
    test adds, with the faults it asks for; tests/deploy has one per module instead."""
    with running_origin() as server:
        yield server


@pytest.fixture(scope="session")
def swift(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwiftServer]:
    """A real all-in-one Swift (tempauth, tempurl, memcached), started once."""
    try:
        server = SwiftServer(tmp_path_factory.mktemp("swift")).start()
    except SwiftUnavailable as exc:
        unavailable(f"OpenStack Swift cannot run here: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def account_key(swift: SwiftServer) -> str:
    """The account's Temp-URL-Key, set once for the session."""
    key = secrets.token_hex(16)
    swift.set_account_key(key)
    return key


@pytest.fixture(scope="session")
def glance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GlanceServer]:
    """A real Glance (SQLite, file store, no Keystone), started once."""
    try:
        server = GlanceServer(tmp_path_factory.mktemp("glance")).start()
    except GlanceUnavailable as exc:
        unavailable(f"OpenStack Glance cannot run here: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium for the dashboard's tests (tests/ui, tests/keystone), one per
    module: Playwright's sync API allows one instance at a time, and while it is open
    its event loop runs in the worker's thread, so any later test's asyncio.run() on
    that worker would fail ("cannot be called from a running event loop")."""
    with chromium.launched() as launched:
        yield launched
