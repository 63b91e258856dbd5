"""The agent process: look the node up, serve the command API, heartbeat, and stop
cleanly on ``standby.power_off`` (exit code 0), ``standby.run_image`` (EXIT_REBOOT) or
SIGTERM/SIGINT (0); the ramdisk's /init powers off or reboots the machine accordingly."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.metadata
import logging
import pathlib
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

import uvicorn

from ingot.agent import disks, inventory, root_device, tls
from ingot.agent.bootloader import Image
from ingot.agent.clean import Clean
from ingot.agent.commands import CommandRunner
from ingot.agent.heartbeat import Heartbeater, HeartbeatSettings
from ingot.agent.http_api import create_app
from ingot.agent.ironic_client import TLS_VERSION, IronicClient, LookupFailed, LookupResult
from ingot.agent.root_device import InvalidHints, NoRootDevice
from ingot.agent.standby import DownloadSettings, Standby

LOG = logging.getLogger(__name__)
# Told to reboot (standby.run_image); 2 is a failure before serving (lookup, no disk).
EXIT_REBOOT = 3


@dataclasses.dataclass(frozen=True)
class AgentSettings:
    api_url: str
    # None: chosen after the lookup by the node's root device hints (root_device.py).
    target: str | None
    macs: Sequence[str] = ()
    node_uuid: str | None = None
    listen_host: str = "127.0.0.1"
    listen_port: int = 9999
    advertise_url: str | None = None
    heartbeat_interval: float | None = None
    lookup_timeout: float = 300.0
    # IPA's enable_auto_tls: serve https with a self-signed certificate when the API
    # can take its CA (1.68).
    auto_tls: bool = True
    preset_token: str | None = dataclasses.field(default=None, repr=False)
    # IPA's inspection_callback_url: post the inventory there before the lookup.
    inspection_callback_url: str | None = None
    bootif: str | None = None  # the MAC the machine booted from, if known
    download: DownloadSettings = dataclasses.field(default_factory=DownloadSettings)


def agent_version() -> str:
    try:
        return importlib.metadata.version("ingot")
    except importlib.metadata.PackageNotFoundError:
        return "0"


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(64)
    sock.set_inheritable(True)
    return sock


def _callback_url(settings: AgentSettings, sock: socket.socket, scheme: str) -> str:
    if settings.advertise_url:
        url = urlsplit(settings.advertise_url.rstrip("/"))
        return urlunsplit((scheme, url.netloc, url.path, "", ""))
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        raise ValueError("--advertise-url is needed when listening on all addresses")
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def run(settings: AgentSettings) -> int:
    """Run the agent until it is told to stop; returns the process exit code."""
    if settings.inspection_callback_url:
        try:
            settings = dataclasses.replace(settings, node_uuid=_inspect(settings))
        except (inventory.InspectionPostFailed, OSError) as exc:
            LOG.error("Inspection failed: %s", exc)
            return 2
    client = IronicClient(settings.api_url)
    try:
        try:
            found = client.lookup(settings.macs, settings.node_uuid,
                                  timeout=settings.lookup_timeout,
                                  preset_token=settings.preset_token)
        except LookupFailed as exc:
            LOG.error("%s", exc)
            return 2
        LOG.info("Lookup found node %s", found.node_uuid)
        if settings.target is None:
            try:
                settings = dataclasses.replace(settings, target=_root_disk(found))
            except (NoRootDevice, InvalidHints) as exc:
                LOG.error("%s", exc)
                return 2
        return _serve(settings, client, found)
    finally:
        client.close()


def _inspect(settings: AgentSettings) -> str:
    """Collect and post the inventory, as IPA does before its lookup; the node's UUID
    (ingot enrolls a machine it does not know when discovery is on)."""
    url = settings.inspection_callback_url
    assert url is not None
    # A local-vm "machine" is its target file and the MACs it was given.
    local = settings.target is not None
    found = inventory.collect(target=settings.target if local else None,
                              macs=settings.macs if local else (), bootif=settings.bootif)
    LOG.info("Posting the inventory (%d CPUs, %d disks, %d NICs) to %s",
             found["cpu"]["count"], len(found["disks"]), len(found["interfaces"]), url)
    node_uuid = inventory.post(url, found, agent_token=settings.preset_token)
    LOG.info("Inspection data accepted for node %s", node_uuid)
    return node_uuid


def _root_disk(found: LookupResult) -> str:
    properties = found.node.get("properties") or {}
    hints = properties.get("root_device") if isinstance(properties, dict) else None
    disk = root_device.choose(disks.list_disks(), hints)
    LOG.info("Root disk %s (%d GiB%s)", disk.name, disk.size >> 30,
             f", hints {hints}" if hints else ", the smallest of at least 4 GiB")
    return disk.name


def _serve(settings: AgentSettings, client: IronicClient, found: LookupResult) -> int:
    target = settings.target
    if target is None:
        raise ValueError("the agent has no target disk")
    sock = _bind(settings.listen_host, settings.listen_port)
    certificate = None
    if settings.auto_tls and client.version is not None and client.version >= TLS_VERSION:
        tls_dir = pathlib.Path(tempfile.mkdtemp(prefix="ingot-agent-tls-"))
        host = urlsplit(_callback_url(settings, sock, "https")).hostname or "127.0.0.1"
        certificate = tls.generate(host, tls_dir)
    callback_url = _callback_url(settings, sock, "https" if certificate else "http")
    started_at = time.time()
    version = agent_version()
    server: uvicorn.Server | None = None
    reboot = threading.Event()

    def stop_agent(then_reboot: bool) -> None:
        if then_reboot:
            reboot.set()

        # Let the command's result and the last heartbeat go out first.
        def later() -> None:
            time.sleep(0.3)
            if server is not None:
                server.should_exit = True
        threading.Thread(target=later, daemon=True).start()

    download = dataclasses.replace(settings.download,
                                   allow_md5=settings.download.allow_md5 or found.allow_md5)
    runner = CommandRunner()
    Standby(target, download, stop_agent).register(runner)
    Clean(target).register(runner)
    Image(target).register(runner)
    app = create_app(runner, found.agent_token,
                     lambda: {"started_at": started_at, "version": version})
    heartbeater = Heartbeater(
        client, found.agent_token,
        HeartbeatSettings(found.node_uuid, callback_url, version, found.heartbeat_timeout,
                          verify_ca=certificate.pem if certificate else None,
                          max_interval=settings.heartbeat_interval,
                          progress_interval=min(5.0, settings.heartbeat_interval or 5.0)),
        progress=runner.progress, busy=runner.running)
    runner.on_done = lambda result: heartbeater.force()
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            server_header=False, timeout_graceful_shutdown=5,
                            ssl_certfile=certificate.cert_file if certificate else None,
                            ssl_keyfile=certificate.key_file if certificate else None,
                            log_config=None)
    server = uvicorn.Server(config)
    LOG.info("Agent for node %s serving on %s, writing to %s", found.node_uuid,
             callback_url, target)
    # uvicorn stops gracefully on SIGTERM/SIGINT, then re-raises the signal to the
    # handlers that were there before: these make that a normal exit (code 0).
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda number, frame: LOG.info("Stopping on signal %d", number))
    heartbeater.start()
    try:
        asyncio.run(server.serve(sockets=[sock]))
    finally:
        heartbeater.stop()
        sock.close()
        if certificate is not None:
            shutil.rmtree(certificate.cert_file.parent, ignore_errors=True)
    LOG.info("Agent stopped%s", ", the machine to reboot" if reboot.is_set() else "")
    return EXIT_REBOOT if reboot.is_set() else 0
