"""The agent endpoints: lookup by MAC or UUID, agent tokens, heartbeats."""

from __future__ import annotations

import pathlib
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from ingot.db.models import nodes, utcnow
from tests import factories
from tests.assertions import fault
from tests.servers.ingot import IngotServer


@pytest.fixture
def api(ingot: IngotServer) -> Iterator[httpx.Client]:
    with ingot.client() as client:
        yield client


def _set(server: IngotServer, uuid: str, **values: Any) -> None:
    engine = sa.create_engine(server.db_url)
    with engine.begin() as conn:
        conn.execute(nodes.update().where(nodes.c.uuid == uuid)
                     .values(revision=nodes.c.revision + 1, **values))
    engine.dispose()


@pytest.fixture
def waiting(api: httpx.Client, ingot: IngotServer) -> dict[str, Any]:
    """A node waiting for its agent, with a port, arranged directly in the database."""
    node = api.post("/v1/nodes", json={"driver": "fake-hardware",
                                       "driver_info": {"ipmi_password": "x"}}).json()
    mac = factories.mac("52:54:03")
    assert api.post("/v1/ports", json={"address": mac, "node_uuid": node["uuid"]}
                    ).status_code == 201
    _set(ingot, node["uuid"], provision_state="wait call-back",
         target_provision_state="active", provision_updated_at=utcnow())
    return {**node, "mac": mac}


def test_lookup_issues_the_token_once(api: httpx.Client, waiting: dict[str, Any]) -> None:
    first = api.get("/v1/lookup", params={"addresses": f"zz,{waiting['mac'].upper()}"})
    assert first.status_code == 200
    body = first.json()
    assert body["node"]["uuid"] == waiting["uuid"]
    token = body["config"]["agent_token"]
    assert token and token != "******"
    assert body["config"]["agent_token_required"] is True
    again = api.get("/v1/lookup", params={"node_uuid": waiting["uuid"]}).json()
    assert again["config"]["agent_token"] == "******"
    shown = api.get(f"/v1/nodes/{waiting['uuid']}").json()
    assert shown["driver_internal_info"]["agent_secret_token"] == "******"
    assert token not in str(shown)


def test_heartbeat_needs_the_token(api: httpx.Client, waiting: dict[str, Any]) -> None:
    token = api.get("/v1/lookup", params={"addresses": waiting["mac"]}).json()[
        "config"]["agent_token"]
    url = f"/v1/heartbeat/{waiting['uuid']}"
    missing = api.post(url, json={"callback_url": "http://127.0.0.1:9999"})
    assert missing.status_code == 400
    assert "Agent token is required" in fault(missing)
    wrong = api.post(url, json={"callback_url": "http://127.0.0.1:9999",
                                "agent_token": "nope"})
    assert wrong.status_code == 401
    assert "Invalid or missing agent token" in fault(wrong)
    good = api.post(url, json={"callback_url": "http://127.0.0.1:9999", "agent_token": token,
                               "agent_version": "ingot-1",
                               "agent_progress": {"bytes_done": 5, "bytes_total": 10}})
    assert good.status_code == 202
    info = api.get(f"/v1/nodes/{waiting['uuid']}").json()["driver_internal_info"]
    assert info["agent_url"] == "http://127.0.0.1:9999"
    assert info["agent_progress"] == {"bytes_done": 5, "bytes_total": 10}
    moved = api.post(url, json={"callback_url": "http://127.0.0.1:8888", "agent_token": token})
    assert moved.status_code == 400
    assert "Detected change in ramdisk provided" in fault(moved)


def test_lookup_refused_outside_agent_states(api: httpx.Client) -> None:
    node = api.post("/v1/nodes", json={"driver": "fake-hardware"}).json()
    mac = factories.mac("52:54:04")
    api.post("/v1/ports", json={"address": mac, "node_uuid": node["uuid"]})
    response = api.get("/v1/lookup", params={"addresses": mac})
    assert response.status_code == 404
    assert fault(response) == "Node could not be found."
    assert api.get("/v1/lookup").status_code == 400
    old = api.get("/v1/lookup", params={"addresses": mac},
                  headers={"X-OpenStack-Ironic-API-Version": "1.21"})
    assert old.status_code == 404


def test_lookup_before_1_62_gives_no_token(api: httpx.Client, waiting: dict[str, Any]) -> None:
    response = api.get("/v1/lookup", params={"addresses": waiting["mac"]},
                       headers={"X-OpenStack-Ironic-API-Version": "1.61"})
    assert response.status_code == 200
    assert response.json()["config"]["agent_token"] is None


def test_v1_document_lists_the_agent_endpoints_from_1_22(ingot: IngotServer) -> None:
    new = httpx.get(f"{ingot.url}/v1/", headers={"X-OpenStack-Ironic-API-Version": "1.22"})
    assert new.json()["lookup"][0]["href"] == f"{ingot.url}/v1/lookup/"
    assert "heartbeat" in new.json()
    old = httpx.get(f"{ingot.url}/v1/", headers={"X-OpenStack-Ironic-API-Version": "1.21"})
    assert "lookup" not in old.json() and "conductors" not in old.json()


def test_heartbeat_keeps_the_agents_ca(api: httpx.Client, waiting: dict[str, Any],
                                       ingot: IngotServer, tmp_path: pathlib.Path) -> None:
    from ingot.agent import tls  # noqa: PLC0415 - only here

    token = api.get("/v1/lookup", params={"addresses": waiting["mac"]}).json()[
        "config"]["agent_token"]
    url = f"/v1/heartbeat/{waiting['uuid']}"
    body = {"callback_url": "https://127.0.0.1:9999", "agent_token": token}
    bad = api.post(url, json={**body, "agent_verify_ca": "not a certificate"})
    assert bad.status_code == 400
    assert "agent_verify_ca" in fault(bad)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = tls.generate("127.0.0.1", tmp_path / "a").pem
    assert api.post(url, json={**body, "agent_verify_ca": first}).status_code == 202
    engine = sa.create_engine(ingot.db_url)
    with engine.begin() as conn:
        stored = conn.execute(sa.select(nodes.c.agent_verify_ca)
                              .where(nodes.c.uuid == waiting["uuid"])).scalar_one()
    engine.dispose()
    assert stored == first
    # Another certificate from the same agent is refused, as Ironic refuses it.
    other = tls.generate("127.0.0.1", tmp_path / "b").pem
    changed = api.post(url, json={**body, "agent_verify_ca": other})
    assert changed.status_code == 400
    assert 'Detected change in ramdisk provided "agent_verify_ca"' in fault(changed)
    # Before 1.68 the field does not exist.
    old = api.post(url, json={**body, "agent_verify_ca": first},
                   headers={"X-OpenStack-Ironic-API-Version": "1.67"})
    assert old.status_code == 400


def test_heartbeat_does_not_tell_unknown_nodes_from_known_ones(
        api: httpx.Client, waiting: dict[str, Any]) -> None:
    body = {"callback_url": "http://127.0.0.1:9999", "agent_token": "guess"}
    known = api.post(f"/v1/heartbeat/{waiting['uuid']}", json=body)
    unknown_uuid = api.post(f"/v1/heartbeat/{uuid.uuid4()}", json=body)
    unknown_name = api.post(f"/v1/heartbeat/{factories.name('nobody')}", json=body)
    for response in (known, unknown_uuid, unknown_name):
        assert response.status_code == 401, response.text
        assert response.json() == known.json()
    assert "Invalid or missing agent token" in fault(known)


@pytest.mark.parametrize("url", [
    "ftp://127.0.0.1:9999", "file:///etc/passwd", "gopher://127.0.0.1:70",
    "http://user:secret@127.0.0.1:9999", "http://@127.0.0.1:9999",
    "http://127.0.0.1:9999/?x=1", "http://127.0.0.1:9999/#f", "http://0.0.0.0:9999",
    "http://[::]:9999", "http://224.0.0.1:9999", "http://127.0.0.1:0", "http:///x",
    "http://127.0.0.1:99999", "http://bad host:1", "javascript:alert(1)",
])
def test_heartbeat_refuses_callback_urls_the_conductor_must_not_call(
        api: httpx.Client, waiting: dict[str, Any], url: str) -> None:
    token = api.get("/v1/lookup", params={"addresses": waiting["mac"]}).json()[
        "config"]["agent_token"]
    response = api.post(f"/v1/heartbeat/{waiting['uuid']}",
                        json={"callback_url": url, "agent_token": token})
    assert response.status_code == 400, response.text
    assert fault(response) == 'An issue with the supplied "callback_url" has been detected.'
    info = api.get(f"/v1/nodes/{waiting['uuid']}").json()["driver_internal_info"]
    assert "agent_url" not in info
    ok = api.post(f"/v1/heartbeat/{waiting['uuid']}",
                  json={"callback_url": "https://[::1]:9999/", "agent_token": token})
    assert ok.status_code == 202, ok.text


def test_heartbeat_progress_is_bounded(api: httpx.Client, waiting: dict[str, Any]) -> None:
    token = api.get("/v1/lookup", params={"addresses": waiting["mac"]}).json()[
        "config"]["agent_token"]
    url = f"/v1/heartbeat/{waiting['uuid']}"
    big = api.post(url, json={"callback_url": "http://127.0.0.1:9999", "agent_token": token,
                              "agent_progress": {"note": "x" * 5000}})
    assert big.status_code == 413
    assert fault(big) == "agent_progress exceeds the limit of 4096 bytes."
    huge = api.post(url, json={"callback_url": "http://127.0.0.1:9999", "agent_token": token,
                               "agent_progress": {"note": "x" * 900_000}})
    assert huge.status_code == 413
    info = api.get(f"/v1/nodes/{waiting['uuid']}").json()["driver_internal_info"]
    assert "agent_progress" not in info and "agent_url" not in info
