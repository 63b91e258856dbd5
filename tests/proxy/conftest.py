"""Three real sites and a real `ingot proxy` in front of them, shared by the proxy tests."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import openstack
import pytest

from tests.api.test_cli import Cli
from tests.proxy.servers import ProxyServer, Sites, proxy_sections, start_sites
from tests.servers.ironic import IronicUnavailable
from tests.servers.process import unavailable


@pytest.fixture(scope="session")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    workdir: pathlib.Path = tmp_path_factory.mktemp("proxy-sites")
    try:
        started = start_sites(workdir)
    except IronicUnavailable as exc:
        unavailable(f"the real Ironic site cannot run here: {exc}")
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="session")
def proxy(sites: Sites, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyServer]:
    server = ProxyServer(tmp_path_factory.mktemp("proxy"),
                         proxy_sections(sites.urls())).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def conn(proxy: ProxyServer) -> openstack.connection.Connection:
    return openstack.connect(auth_type="none", baremetal_endpoint_override=proxy.url,
                             load_yaml_config=False, load_envvars=False)


@pytest.fixture
def cli(proxy: ProxyServer) -> Cli:
    return Cli(proxy.url)
