"""Shared by the deploy tests: an ingot server with local-vm nodes and an HTTP origin;
the qemu-vm fixtures of tests/deploy/qemu.py."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import httpx
import pytest

from tests.deploy.qemu import agent_ingot, agent_origin, busybox_files, ramdisk
from tests.servers.ingot import IngotServer
from tests.servers.origin import Origin, running_origin

__all__ = ["agent_ingot", "agent_origin", "busybox_files", "ramdisk"]  # fixtures


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return tmp_path_factory.mktemp("deploy")


@pytest.fixture(scope="module")
def server(workdir: pathlib.Path) -> Iterator[IngotServer]:
    (workdir / "vms").mkdir()
    ingot = IngotServer(workdir / "ingot", options={
        "local_vm": {"disk_paths": workdir / "vms", "agent_heartbeat_interval": 0.5},
        "conductor": {"check_provision_state_interval": 1},
    }).start()
    yield ingot
    ingot.stop()


@pytest.fixture(scope="module")
def origin() -> Iterator[Origin]:
    with running_origin() as running:
        yield running


@pytest.fixture
def api(server: IngotServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client
