"""http_basic authentication with a real htpasswd file and bcrypt, on a real server."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import bcrypt
import httpx
import openstack
import pytest
from openstack import exceptions as sdk_exc

from tests.servers.ingot import IngotServer


@pytest.fixture(scope="module")
def basic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngotServer]:
    workdir: pathlib.Path = tmp_path_factory.mktemp("basic-auth")
    htpasswd = workdir / "htpasswd"
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=8)).decode()
    # htpasswd -B writes $2y$ hashes; ingot must accept them.
    htpasswd.write_text(f"admin:{hashed.replace('$2b$', '$2y$', 1)}\n# comment\n"
                        f"plain:secret\nbroken:$2b$not-a-hash\n")
    server = IngotServer(workdir, options={"DEFAULT": {
        "auth_strategy": "http_basic", "http_basic_auth_user_file": htpasswd}}).start()
    yield server
    server.stop()


def test_requests_need_valid_credentials(basic: IngotServer) -> None:
    anonymous = httpx.get(f"{basic.url}/v1/nodes")
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == 'Basic realm="Baremetal API"'
    assert "Authorization required" in anonymous.json()["error_message"]
    wrong = httpx.get(f"{basic.url}/v1/nodes", auth=("admin", "guess"))
    assert wrong.status_code == 401
    assert "Incorrect username or password" in wrong.json()["error_message"]
    # Entries that are not bcrypt are ignored rather than compared in clear text.
    assert httpx.get(f"{basic.url}/v1/nodes", auth=("plain", "secret")).status_code == 401
    for _ in range(2):  # the second request is served from the verified-credentials cache
        ok = httpx.get(f"{basic.url}/v1/nodes", auth=("admin", "s3cret"))
        assert ok.status_code == 200


def test_odd_passwords_are_refused_without_an_error(basic: IngotServer) -> None:
    """bcrypt reads 72 bytes and refuses more; a password over it, one with a NUL byte,
    and a user whose entry is not a valid hash are all a plain 401."""
    for user, password in (("admin", "x" * 73), ("admin", "s3cret" + "x" * 100),
                           ("admin", "é" * 40), ("admin", "s3\x00cret"),
                           ("broken", "anything")):
        response = httpx.get(f"{basic.url}/v1/nodes", auth=(user, password))
        assert response.status_code == 401, (user, len(password), response.text)
        assert "Incorrect username or password" in response.json()["error_message"]
    assert "Traceback" not in basic.log()
    assert "Unexpected error" not in basic.log()


def test_discovery_and_agent_endpoints_stay_public(basic: IngotServer) -> None:
    assert httpx.get(f"{basic.url}/").status_code == 200
    assert httpx.get(f"{basic.url}/v1/").status_code == 200
    lookup = httpx.get(f"{basic.url}/v1/lookup?addresses=52:54:00:00:00:01",
                       headers={"X-OpenStack-Ironic-API-Version": "1.73"})
    assert lookup.status_code == 404  # reached the endpoint: no node, not 401


def test_sdk_with_http_basic(basic: IngotServer) -> None:
    conn = openstack.connect(auth_type="http_basic", username="admin", password="s3cret",
                             baremetal_endpoint_override=basic.url,
                             load_yaml_config=False, load_envvars=False)
    node = conn.baremetal.create_node(driver="fake-hardware")
    assert conn.baremetal.get_node(node.id).id == node.id
    denied = openstack.connect(auth_type="http_basic", username="admin", password="no",
                               baremetal_endpoint_override=basic.url,
                               load_yaml_config=False, load_envvars=False)
    with pytest.raises(sdk_exc.HttpException) as raised:
        list(denied.baremetal.nodes())
    assert raised.value.status_code == 401
    assert "s3cret" not in basic.log()
