"""auth_strategy = keystone against a real Keystone and a real `ingot serve`.

ingot caches a validated token (by digest) for 300 s, like keystonemiddleware's default
token_cache_time, but not past the token's expires_at: a token revoked after ingot
accepted it keeps working for up to 300 s more. The revocation test therefore uses a
token ingot has never seen, and
test_revoked_token_in_the_cache_stays_valid_for_the_cache_window pins the window down.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import openstack
import pytest

from tests.servers.ingot import IngotServer
from tests.servers.keystone import DOMAIN, REGION, Account, KeystoneServer

BAREMETAL = os.path.join(os.path.dirname(sys.executable), "baremetal")
VERSION = {"X-OpenStack-Ironic-API-Version": "1.73"}


@pytest.fixture(scope="module")
def issued() -> list[str]:
    """Every token the tests send to ingot, for the no-secrets-in-the-log check."""
    return []


@pytest.fixture
def token(operator: Account, issued: list[str]) -> str:
    """A fresh operator token, never sent to ingot before."""
    value = operator.token()
    issued.append(value)
    return value


def get_nodes(server: IngotServer, token: str | None = None) -> httpx.Response:
    headers = {**VERSION, **({"X-Auth-Token": token} if token is not None else {})}
    return httpx.get(f"{server.url}/v1/nodes", headers=headers, timeout=30)


def faultstring(response: httpx.Response) -> str:
    """Ironic's error body: error_message holds a JSON string with faultstring."""
    inner: dict[str, Any] = json.loads(response.json()["error_message"])
    assert set(inner) >= {"faultcode", "faultstring"}
    return str(inner["faultstring"])


def test_sdk_finds_ingot_in_the_catalog(ingot_keystone: IngotServer, keystone: KeystoneServer,
                                        operator: Account, issued: list[str]) -> None:
    conn = openstack.connect(auth_url=keystone.url, username=operator.username,
                             password=operator.password, project_name=operator.project_name,
                             user_domain_name=DOMAIN, project_domain_name=DOMAIN,
                             region_name=REGION, load_yaml_config=False,
                             load_envvars=False)
    try:
        token, endpoint = conn.auth_token, conn.endpoint_for("baremetal")
        assert token is not None and endpoint is not None
        issued.append(token)
        assert endpoint.rstrip("/") == ingot_keystone.url
        name = f"ks-sdk-{uuid.uuid4().hex[:8]}"
        node = conn.baremetal.create_node(driver="fake-hardware", name=name)
        assert name in [n.name for n in conn.baremetal.nodes()]
        assert conn.baremetal.get_node(name).id == node.id
    finally:
        conn.close()


def test_baremetal_cli_with_openrc_variables(ingot_keystone: IngotServer,
                                             operator: Account, token: str) -> None:
    name = f"ks-cli-{uuid.uuid4().hex[:8]}"
    created = httpx.post(f"{ingot_keystone.url}/v1/nodes", timeout=30,
                         headers={**VERSION, "X-Auth-Token": token},
                         json={"driver": "fake-hardware", "name": name})
    assert created.status_code == 201, created.text
    # Only the openrc variables: nothing from the developer's own OS_* or clouds.yaml.
    env = {key: value for key, value in os.environ.items() if not key.startswith("OS_")}
    env.update(operator.env(), PYTHONWARNINGS="ignore")
    result = subprocess.run([BAREMETAL, "node", "list", "-f", "json"], env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert name in [node["name"] for node in json.loads(result.stdout)]


def test_request_without_token_is_401(ingot_keystone: IngotServer,
                                      keystone: KeystoneServer) -> None:
    response = get_nodes(ingot_keystone)
    assert response.status_code == 401
    assert "X-Auth-Token" in faultstring(response)
    # As keystonemiddleware does: the challenge says where to get a token.
    assert response.headers["WWW-Authenticate"] == f'Keystone uri="{keystone.url}"'


def test_garbage_token_is_401(ingot_keystone: IngotServer, issued: list[str]) -> None:
    garbage = "gAAAAAB" + uuid.uuid4().hex * 3
    issued.append(garbage)
    response = get_nodes(ingot_keystone, garbage)
    assert response.status_code == 401
    assert "invalid or expired" in faultstring(response)


def test_token_without_allowed_role_is_403(ingot_keystone: IngotServer, observer: Account,
                                           issued: list[str]) -> None:
    token = observer.token()
    issued.append(token)
    for _ in range(2):  # the second answer comes from the cache: still refused
        response = get_nodes(ingot_keystone, token)
        assert response.status_code == 403
        assert "roles" in faultstring(response)


def test_revoked_token_is_401(ingot_keystone: IngotServer, keystone: KeystoneServer,
                              token: str) -> None:
    keystone.revoke(token)
    assert keystone.validate(token) == 404
    response = get_nodes(ingot_keystone, token)
    assert response.status_code == 401
    assert "invalid or expired" in faultstring(response)


def test_revoked_token_in_the_cache_stays_valid_for_the_cache_window(
        ingot_keystone: IngotServer, keystone: KeystoneServer, token: str) -> None:
    """Documents the cache window rather than approving of it: ingot does not ask
    Keystone again for up to 300 s after it accepted a token."""
    assert get_nodes(ingot_keystone, token).status_code == 200
    keystone.revoke(token)
    assert keystone.validate(token) == 404
    assert get_nodes(ingot_keystone, token).status_code == 200


def test_discovery_and_agent_lookup_stay_public(ingot_keystone: IngotServer) -> None:
    for path in ("/", "/v1", "/v1/"):
        assert httpx.get(ingot_keystone.url + path, timeout=30).status_code == 200, path
    lookup = httpx.get(f"{ingot_keystone.url}/v1/lookup?addresses=52:54:00:00:00:01",
                       headers=VERSION, timeout=30)
    assert lookup.status_code == 404  # reached the endpoint (no such node), not 401


@pytest.fixture
def keystone_down(keystone: KeystoneServer) -> Iterator[KeystoneServer]:
    """Keystone stopped for one test, started again (same port, keys) afterwards."""
    keystone.stop()
    try:
        yield keystone
    finally:
        keystone.start()


def test_keystone_down_is_503(ingot_keystone: IngotServer, operator: Account,
                              issued: list[str], request: pytest.FixtureRequest) -> None:
    cached, fresh = operator.token(), operator.token()
    issued.extend([cached, fresh])
    assert get_nodes(ingot_keystone, cached).status_code == 200
    request.getfixturevalue("keystone_down")
    started = time.monotonic()
    response = get_nodes(ingot_keystone, fresh)
    assert response.status_code == 503
    assert time.monotonic() - started < 10
    assert "Keystone is unreachable" in faultstring(response)
    assert "Keystone token validation failed: ConnectFailure" in ingot_keystone.log()
    # A token validated before the outage is served from the cache.
    assert get_nodes(ingot_keystone, cached).status_code == 200


def test_keystone_back_after_outage(ingot_keystone: IngotServer, token: str) -> None:
    assert get_nodes(ingot_keystone, token).status_code == 200


def test_no_secret_in_the_log(ingot_keystone: IngotServer, keystone: KeystoneServer,
                              service_account: Account, operator: Account,
                              observer: Account, issued: list[str]) -> None:
    log = ingot_keystone.log()
    assert "ingot API listening" in log  # the right log, and not empty
    passwords = [keystone.admin.password, service_account.password, operator.password,
                 observer.password]
    assert issued, "the tests above sent no token"
    for secret in passwords + issued:
        assert secret not in log


@pytest.mark.parametrize("problem", ["wrong password", "no service role"])
def test_ingot_credentials_refused_by_keystone_is_503(
        problem: str, tmp_path: pathlib.Path, keystone: KeystoneServer,
        service_account: Account, operator: Account, issued: list[str]) -> None:
    """A misconfigured [keystone_authtoken] is ingot's fault, not the client's: 503 and
    an error in ingot's log, never "your token is invalid"."""
    if problem == "wrong password":
        account = dataclasses.replace(service_account, password="not-" + uuid.uuid4().hex)
    else:  # Keystone's policy lets only admin, service or the token's owner validate it
        account = keystone.create_user(f"ingot-{uuid.uuid4().hex[:6]}", "service",
                                       ["member"])
    server = IngotServer(tmp_path, options={
        "DEFAULT": {"auth_strategy": "keystone"},
        "keystone_authtoken": keystone.authtoken_options(account)}).start()
    try:
        token = operator.token()
        issued.append(token)
        response = get_nodes(server, token)
        assert response.status_code == 503, response.text
        assert "credentials" in faultstring(response)
        log = server.log()
        assert "[keystone_authtoken] credentials" in log
        assert account.password not in log and token not in log
    finally:
        server.stop()
