"""Assembling the services from configuration: database, API, conductor, server."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import os
import pathlib
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any

from oslo_config import cfg

from ingot.api.app import create_app
from ingot.api.auth import basic_authenticator, keystone_authenticator, noauth
from ingot.api.context import ApiSettings
from ingot.common import redaction
from ingot.common.listen import ListenError, listening_socket
from ingot.conductor.service import ConductorService
from ingot.conductor.settings import ConductorSettings
from ingot.db import migrate
from ingot.db.engine import Database, default_url
from ingot.drivers.settings import DriverSettings
from ingot.inspection.settings import InspectionSettings
from ingot.ui import service as dashboard

LOG = logging.getLogger("ingot")
# Seconds requests in flight get when the service stops (see the API server below).
GRACEFUL_SHUTDOWN = 3


def setup_logging(conf: cfg.ConfigOpts) -> None:
    logging.basicConfig(
        level=logging.DEBUG if conf.debug else logging.INFO, stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    redaction.install()
    # Third-party chatter that would otherwise print URLs with query strings.
    for noisy in ("httpx", "httpcore", "urllib3", "keystoneauth", "swiftclient"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def open_database(conf: cfg.ConfigOpts, upgrade: bool = True, threads: int = 0) -> Database:
    """threads: how many threads of the process may hold a connection at once; the pool
    keeps that many open (at least [database] max_pool_size): a connection past the
    pool's size is opened for one use and closed again, which in `ingot serve` on
    PostgreSQL was a new server connection every quarter second during a deploy."""
    url = conf.database.connection or default_url(conf.state_path)
    db = Database(url, pool_size=max(conf.database.max_pool_size, threads),
                  sqlite_busy_timeout=conf.database.sqlite_busy_timeout)
    if upgrade:
        migrate.upgrade(db)
    return db


def authenticator(conf: cfg.ConfigOpts) -> Callable[[dict[bytes, bytes]], Any]:
    strategy = conf.auth_strategy
    if strategy == "http_basic":
        return basic_authenticator(conf.http_basic_auth_user_file)
    if strategy == "keystone":
        return keystone_authenticator(conf)
    return noauth


def register_hardware_types(conf: cfg.ConfigOpts) -> None:
    """Import the hardware types beyond fake-hardware that are enabled."""
    from ingot.drivers import catalog  # noqa: PLC0415 - imports only what is enabled

    catalog.load(conf.enabled_hardware_types)


async def serve(conf: cfg.ConfigOpts, *, api: bool, conductor: bool) -> None:
    """Run the API and/or the conductor (with its HTTP root) until SIGINT or SIGTERM.

    Raises ListenError before anything starts if a port cannot be opened, and
    SwiftConfigError if the [glance] temporary URL options contradict each other.
    """
    import uvicorn  # noqa: PLC0415 - the import is heavy for the other commands

    from ingot.conductor import file_server  # noqa: PLC0415

    # Ports first: a busy one is then one line, before the conductor claims any work.
    sockets: list[socket.socket] = []
    try:
        if api:
            sockets.append(listening_socket(conf.api.host_ip, conf.api.port,
                                            host_option="[api] host_ip",
                                            port_option="[api] port"))
        if conductor and conf.deploy.serve_http_root:
            sockets.append(listening_socket(conf.api.host_ip, conf.deploy.http_port,
                                            host_option="[api] host_ip",
                                            port_option="[deploy] http_port"))
    except ListenError:
        for sock in sockets:
            sock.close()
        raise
    if conductor:
        # The [glance] temp URL options are checked (and any adjustment logged) at start,
        # not at the first deploy that needs them.
        from ingot.swift.settings import TempURLSettings  # noqa: PLC0415 - conductors only

        TempURLSettings.from_conf(conf)
    register_hardware_types(conf)
    # The loop's executor (API writes, claims) is sized here, as asyncio would size it,
    # so that the pool can hold a connection for each of its threads, the loop's own,
    # and the conductor's heartbeat and write batch threads.
    workers = min(32, (os.cpu_count() or 1) + 4)
    asyncio.get_running_loop().set_default_executor(concurrent.futures.ThreadPoolExecutor(
        workers, thread_name_prefix="ingot-worker"))
    db = open_database(conf, threads=workers + 1 + (2 if conductor else 0))
    drivers = DriverSettings.from_conf(conf)
    service = None
    if conductor:
        from ingot.cli.wiring import driver_services  # noqa: PLC0415 - conductors only
        from ingot.drivers import image_delivery, ipxe  # noqa: PLC0415 - conductors only

        services = driver_services(conf, db, drivers)

        chores: list[Callable[[], object]] = [
            functools.partial(image_delivery.clean_up_cache, services),
            functools.partial(ipxe.remove_orphans, services),
            functools.partial(ipxe.renew_ramdisk_instances, services)]
        if "local-vm" in conf.enabled_hardware_types:
            from ingot.drivers import local_vm  # noqa: PLC0415 - loaded by the catalog

            chores.append(functools.partial(local_vm.fail_orphaned_agents, services))
        service = ConductorService(db, ConductorSettings.from_conf(conf), services,
                                   housekeeping=chores, with_api=api)
    servers: list[tuple[uvicorn.Server, socket.socket]] = []
    if api:
        app = create_app(
            db, ApiSettings.from_conf(conf), authenticator(conf), drivers=drivers,
            inspection=InspectionSettings.from_conf(conf),
            notify=service.wake if service else lambda: None,
            on_startup=[service.start] if service else [],
            on_shutdown=[service.stop] if service else [])
        servers.append((uvicorn.Server(uvicorn.Config(
            app, host=conf.api.host_ip, port=conf.api.port, log_level="warning",
            access_log=False, lifespan="on", server_header=False,
            # httptools' C parser, named so a missing one fails at start: "auto" would
            # fall back to h11, whose request costs 1.5-1.9x the CPU (GET /v1/).
            http="httptools",
            # An open dashboard's event stream never ends by itself: on stop, requests
            # get this long, then are cancelled.
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
            log_config=None)), sockets[0]))  # uvicorn then logs through the redacting root handler
        LOG.info("ingot API listening on http://%s:%s", conf.api.host_ip, conf.api.port)
    if conductor and conf.deploy.serve_http_root:
        root = pathlib.Path(os.path.expanduser(conf.deploy.http_root))
        http_socket = sockets[-1]
        servers.append((file_server.server(root, conf.api.host_ip, conf.deploy.http_port),
                        http_socket))
        LOG.info("HTTP root %s served on http://%s:%s", root, conf.api.host_ip,
                 http_socket.getsockname()[1])

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if service is not None and not api:
        await service.start()
    tasks = [asyncio.create_task(server.serve(sockets=[sock])) for server, sock in servers]
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait({*tasks, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if api:
        dashboard.close(app)  # its event streams end now, not at GRACEFUL_SHUTDOWN
    for server, _sock in servers:
        server.should_exit = True
    await asyncio.gather(*tasks, return_exceptions=True)
    waiter.cancel()
    if service is not None and not api:
        await service.stop()
    db.dispose()
