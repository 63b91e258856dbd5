"""HTTP basic authentication on both sides of the proxy, and no credential in its log."""

from __future__ import annotations

import base64
import pathlib
from collections.abc import Iterator

import bcrypt
import httpx
import pytest

from tests.proxy.servers import ProxyServer, proxy_sections
from tests.proxy.test_sdk import fault
from tests.servers.ingot import IngotServer

SITE_PASSWORD = "site-pw-7d1b2f"
CALLER_PASSWORD = "caller-pw-94c0ae"


def _htpasswd(path: pathlib.Path, user: str, password: str) -> pathlib.Path:
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    path.write_text(f"{user}:{hashed}\n")
    return path


@pytest.fixture(scope="module")
def guarded_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngotServer]:
    workdir = tmp_path_factory.mktemp("basic-site")
    users = _htpasswd(workdir / "htpasswd", "proxy", SITE_PASSWORD)
    server = IngotServer(workdir, host="basic-conductor", options={
        "DEFAULT": {"auth_strategy": "http_basic", "http_basic_auth_user_file": users}})
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_http_basic_both_ways_without_logging_credentials(guarded_site: IngotServer,
                                                          tmp_path: pathlib.Path) -> None:
    users = _htpasswd(tmp_path / "callers", "operator", CALLER_PASSWORD)
    sections = proxy_sections({}, groups="_:edge", options={
        "DEFAULT": {"http_basic_auth_user_file": users},
        "api": {"auth_strategy": "http_basic"},
        "group:edge": {"auth_type": "http_basic", "username": "proxy",
                       "password": SITE_PASSWORD, "endpoint_override": guarded_site.url},
    })
    proxy = ProxyServer(tmp_path / "proxy", sections).start()
    try:
        with proxy.client() as anonymous:
            refused = anonymous.get("/v1/nodes")
            assert refused.status_code == 401
            assert refused.headers["WWW-Authenticate"].startswith("Basic")
            assert "HTTP basic credentials" in fault(refused)
            # Version discovery stays public, as in Ironic.
            assert anonymous.get("/").status_code == 200
        with proxy.client(auth=("operator", "wrong")) as wrong:
            assert wrong.get("/v1/nodes").status_code == 401
        with proxy.client(auth=("operator", CALLER_PASSWORD)) as client:
            created = client.post("/v1/nodes", json={"driver": "fake-hardware",
                                                     "name": "behind-basic"})
            assert created.status_code == 201, created.text
            listed = client.get("/v1/nodes").json()["nodes"]
            assert [n["name"] for n in listed] == ["behind-basic"]
            assert client.get("/v1/nodes/behind-basic").status_code == 200
        # The site itself refuses anyone without the proxy's credentials.
        assert httpx.get(guarded_site.url + "/v1/nodes", timeout=10).status_code == 401
    finally:
        proxy.stop()
    log = proxy.log()
    assert "DEBUG" in log  # the most talkative level, and still:
    for user, secret in (("proxy", SITE_PASSWORD), ("operator", CALLER_PASSWORD)):
        assert secret not in log
        assert base64.b64encode(f"{user}:{secret}".encode()).decode() not in log
