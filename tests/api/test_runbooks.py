"""Runbooks (API 1.92, traits 1.112): stored and shown as Ironic's, bad input refused
naming the field, and run on a node for cleaning or servicing once its traits approve."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests import factories
from tests.assertions import fault, snapshot
from tests.servers.ingot import IngotServer

STEP = {"interface": "bios", "step": "apply_configuration", "order": 150,
        "args": {"settings": [{"name": "LogicalProc", "value": "Enabled"}]}}
V = "X-OpenStack-Ironic-API-Version"


@pytest.fixture
def api(ingot: IngotServer) -> Iterator[httpx.Client]:
    with ingot.client("1.92") as client:
        yield client


def trait_name() -> str:
    return "CUSTOM_" + factories.name("rb").upper().replace("-", "_")


def create(api: httpx.Client, **body: Any) -> dict[str, Any]:
    answer = api.post("/v1/runbooks", json={"name": trait_name(), "steps": [STEP], **body})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_create_show_list_patch_delete(api: httpx.Client) -> None:
    name = trait_name()
    secret = {"interface": "deploy", "step": "erase_devices", "order": "10",
              "args": {"admin_password": "s3cret"}}
    created = api.post("/v1/runbooks", json={"name": name, "steps": [STEP, secret],
                                             "extra": {"k": "v"}})
    assert created.status_code == 201, created.text
    body = created.json()
    assert created.headers["Location"].endswith(f"/v1/runbooks/{body['uuid']}")
    assert body["steps"][0] == STEP
    # The order may be given as a string of digits; it is kept as a number, and
    # secrets in args never show.
    assert body["steps"][1] == {**secret, "order": 10, "args": {"admin_password": "******"}}
    assert (body["public"], body["owner"], body["disable_ramdisk"]) == (False, None, False)
    assert "traits" not in body and "description" not in body  # 1.112 fields
    assert api.get(f"/v1/runbooks/{name}").json() == body
    listed = api.get("/v1/runbooks").json()["runbooks"]
    assert [set(r) for r in listed if r["uuid"] == body["uuid"]] == [{"uuid", "name",
                                                                      "links"}]
    assert body in api.get("/v1/runbooks", params={"detail": "true"}).json()["runbooks"]
    patched = api.patch(f"/v1/runbooks/{body['uuid']}", json=[
        {"op": "add", "path": "/extra/answer", "value": 42},
        {"op": "remove", "path": "/steps/1"}])
    assert patched.status_code == 200, patched.text
    assert (patched.json()["extra"], patched.json()["steps"]) == ({"k": "v", "answer": 42},
                                                                  [STEP])
    assert api.delete(f"/v1/runbooks/{name}").status_code == 204
    assert api.get(f"/v1/runbooks/{body['uuid']}").status_code == 404


def test_versions_gate_runbooks(api: httpx.Client) -> None:
    old = {V: "1.91"}
    assert api.get("/v1/runbooks", headers=old).status_code == 404
    refused = api.post("/v1/runbooks", json={"name": trait_name(), "steps": [STEP]},
                       headers=old)
    assert refused.status_code == 405 and "does not allow runbooks" in fault(refused)
    runbook = create(api)
    traits = f"/v1/runbooks/{runbook['uuid']}/traits"
    assert api.get(traits).status_code == 404
    # 1.112: description, traits, and names that are not traits.
    new = {V: "1.112"}
    shown = api.get(f"/v1/runbooks/{runbook['uuid']}", headers=new).json()
    assert (shown["traits"], shown["description"]) == ([], None)
    named = api.post("/v1/runbooks", headers=new, json={
        "name": f"enable-ht-{runbook['uuid'][:8]}", "steps": [STEP], "description": "HT"})
    assert named.status_code == 201, named.text
    assert api.get(f"/v1/runbooks/{named.json()['name']}", headers=new).json()[
        "description"] == "HT"


def test_runbook_traits(api: httpx.Client) -> None:
    new = {V: "1.112"}
    runbook = create(api)
    traits = f"/v1/runbooks/{runbook['uuid']}/traits"
    added = api.put(f"{traits}/CUSTOM_ONE", headers=new)
    assert added.status_code == 204 and added.headers["Location"].endswith(
        f"{traits}/CUSTOM_ONE")
    assert api.put(traits, headers=new, json={"traits": ["CUSTOM_B", "CUSTOM_A"]}
                   ).status_code == 204
    assert api.get(traits, headers=new).json() == {"traits": ["CUSTOM_A", "CUSTOM_B"]}
    assert api.delete(f"{traits}/CUSTOM_A", headers=new).status_code == 204
    assert api.delete(f"{traits}/CUSTOM_NOT_THERE", headers=new).status_code == 204
    assert api.get(traits, headers=new).json() == {"traits": ["CUSTOM_B"]}
    assert api.delete(traits, headers=new).status_code == 204
    assert api.get(traits, headers=new).json() == {"traits": []}
    bad = api.put(traits, headers=new, json={"traits": ["lower"]})
    assert bad.status_code == 400 and "Invalid trait 'lower'" in fault(bad)
    with_body = api.put(f"{traits}/CUSTOM_X", headers=new, json={"traits": ["CUSTOM_Y"]})
    assert with_body.status_code == 400 and "No body" in fault(with_body)


BAD_CREATES = [
    ({"steps": [STEP]}, "Missing required field name"),
    ({"name": "lowercase", "steps": [STEP]}, "Runbook name must be a valid trait"),
    ({"name": "CUSTOM_X"}, "Missing required field steps"),
    ({"name": "CUSTOM_X", "steps": []}, "No steps specified in steps"),
    ({"name": "CUSTOM_X", "steps": [{**STEP, "interface": "boot"}]},
     "steps[0].interface must be one of"),
    ({"name": "CUSTOM_X", "steps": [{**STEP, "order": -1}]}, "steps[0].order"),
    ({"name": "CUSTOM_X", "steps": [{**STEP, "order": "high"}]}, "steps[0].order"),
    ({"name": "CUSTOM_X", "steps": [{**STEP, "step": ""}]}, "steps[0].step"),
    ({"name": "CUSTOM_X", "steps": [{**STEP, "args": []}]}, "steps[0].args"),
    ({"name": "CUSTOM_X", "steps": [{"interface": "bios", "args": {}}]},
     "steps[0]: missing step, order"),
    ({"name": "CUSTOM_X", "steps": [{**STEP, "priority": 1}]}, "steps[0]: unknown priority"),
    ({"name": "CUSTOM_X", "steps": [STEP, {**STEP, "order": 1}]}, "Duplicate steps in steps"),
    ({"name": "CUSTOM_X", "steps": [STEP], "public": True, "owner": "p1"},
     "There cannot be an owner for a public runbook"),
    ({"name": "CUSTOM_X", "steps": [STEP], "description": "d"},
     "Field \"description\" needs API version 1.112"),
    ({"name": "CUSTOM_X", "steps": [STEP], "traits": []}, "Cannot set traits"),
    ({"name": "CUSTOM_X", "steps": [STEP], "colour": 1},
     "Unknown field(s) in runbook: colour"),
]


@pytest.mark.parametrize(("body", "message"), BAD_CREATES)
def test_bad_creates_name_the_field_and_change_nothing(
        api: httpx.Client, ingot: IngotServer, body: dict[str, Any], message: str) -> None:
    before = snapshot(ingot)
    answer = api.post("/v1/runbooks", json=body)
    assert answer.status_code in (400, 406) and message in fault(answer), answer.text
    assert snapshot(ingot) == before


def test_duplicates_and_bad_patches_change_nothing(api: httpx.Client,
                                                   ingot: IngotServer) -> None:
    first, second = create(api), create(api, public=True)
    before = snapshot(ingot)
    again = api.post("/v1/runbooks", json={"name": first["name"], "steps": [STEP]})
    assert again.status_code == 409 and first["name"] in fault(again)
    for ident, ops, status, message in [
            (first, [{"op": "replace", "path": "/name", "value": second["name"]}], 409,
             second["name"]),
            (first, [{"op": "remove", "path": "/steps/0"}], 400, "No steps"),
            (first, [{"op": "remove", "path": "/name"}], 400, "'/name' is mandatory"),
            (first, [{"op": "replace", "path": "/traits", "value": []}], 400, "'/traits'"),
            (first, [{"op": "add", "path": "/steps/0/order", "value": "high"}], 400,
             "steps[0].order"),
            (second, [{"op": "add", "path": "/owner", "value": "p1"}], 400,
             "There cannot be an owner for a public runbook")]:
        answer = api.patch(f"/v1/runbooks/{ident['uuid']}", json=ops)
        assert answer.status_code == status and message in fault(answer), answer.text
    assert api.get("/v1/runbooks", params={"sort_key": "steps"}).status_code == 400
    assert snapshot(ingot) == before
    # Making a runbook private and owned at once is one patch.
    owned = api.patch(f"/v1/runbooks/{second['uuid']}", json=[
        {"op": "replace", "path": "/public", "value": False},
        {"op": "add", "path": "/owner", "value": "p1"}])
    assert (owned.json()["public"], owned.json()["owner"]) == (False, "p1")


def wait_for(api: httpx.Client, node: str, state: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        shown = dict(api.get(f"/v1/nodes/{node}").json())
        if shown["provision_state"] == state and not shown["target_provision_state"]:
            return shown
        time.sleep(0.2)
    raise AssertionError(f"node {node} never reached {state}: {shown}")


def manageable_node(api: httpx.Client, traits: list[str]) -> str:
    node = api.post("/v1/nodes", json={"driver": "fake-hardware"}).json()["uuid"]
    assert api.put(f"/v1/nodes/{node}/traits", json={"traits": traits}).status_code == 204
    assert api.put(f"/v1/nodes/{node}/states/provision",
                   json={"target": "manage"}).status_code == 202
    wait_for(api, node, "manageable")
    return str(node)


def test_a_node_runs_the_runbook_its_traits_approve(api: httpx.Client,
                                                    ingot: IngotServer) -> None:
    runbook = create(api)
    node = manageable_node(api, [runbook["name"]])
    stranger = manageable_node(api, ["CUSTOM_OTHER"])
    provision = {"target": "clean", "runbook": runbook["name"]}
    before = snapshot(ingot)
    for ident, body, headers, status, message in [
            (stranger, provision, {}, 400, "has not been approved for use on this node"),
            (node, {**provision, "runbook": "CUSTOM_NO_SUCH"}, {}, 404,
             "Runbook CUSTOM_NO_SUCH could not be found"),
            (node, {**provision, "clean_steps": [STEP]}, {}, 400,
             "either \"clean_steps\" or a runbook"),
            (node, {**provision, "target": "provide"}, {}, 400,
             "only valid when setting target provision state to clean or service"),
            (node, provision, {V: "1.91"}, 406, "needs API version 1.92"),
            # From 1.112 the runbook's own traits approve nodes; this one has none.
            (node, provision, {V: "1.112"}, 400, "has no traits configured")]:
        answer = api.put(f"/v1/nodes/{ident}/states/provision", json=body, headers=headers)
        assert answer.status_code == status and message in fault(answer), answer.text
    assert snapshot(ingot) == before
    assert api.put(f"/v1/nodes/{node}/states/provision", json=provision).status_code == 202
    wait_for(api, node, "manageable")
    # By UUID at 1.112, approved by a shared trait rather than by name.
    assert api.put(f"/v1/runbooks/{runbook['uuid']}/traits/CUSTOM_SHARED",
                   headers={V: "1.112"}).status_code == 204
    assert api.put(f"/v1/nodes/{node}/traits/CUSTOM_SHARED").status_code == 204
    answer = api.put(f"/v1/nodes/{node}/states/provision", headers={V: "1.112"},
                     json={"target": "clean", "runbook": runbook["uuid"]})
    assert answer.status_code == 202, answer.text
    assert wait_for(api, node, "manageable")["last_error"] is None
