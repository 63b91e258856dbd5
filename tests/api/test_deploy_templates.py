"""Deploy templates: stored and shown as Ironic's, bad input refused naming the field."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests import factories
from tests.assertions import fault, snapshot
from tests.servers.ingot import IngotServer

V = "X-OpenStack-Ironic-API-Version"
STEP = {"interface": "bios", "step": "apply_configuration", "priority": 150,
        "args": {"settings": [{"name": "LogicalProc", "value": "Enabled"}]}}


@pytest.fixture
def api(ingot: IngotServer) -> Iterator[httpx.Client]:
    with ingot.client("1.55") as client:
        yield client


def template_name() -> str:
    return "CUSTOM_" + factories.name("t").upper().replace("-", "_")


def test_create_show_list_patch_delete(api: httpx.Client) -> None:
    name = template_name()
    secret_step = {"interface": "deploy", "step": "write_image", "priority": 80,
                   "args": {"image_password": "s3cret"}}
    created = api.post("/v1/deploy_templates", json={
        "name": name, "steps": [STEP, secret_step], "extra": {"k": "v"}})
    assert created.status_code == 201, created.text
    body = created.json()
    assert created.headers["Location"].endswith(f"/v1/deploy_templates/{body['uuid']}")
    assert body["steps"][0] == STEP and body["extra"] == {"k": "v"}
    assert body["steps"][1]["args"] == {"image_password": "******"}
    assert api.get(f"/v1/deploy_templates/{name}").json() == body
    listed = api.get("/v1/deploy_templates").json()["deploy_templates"]
    mine = [t for t in listed if t["uuid"] == body["uuid"]]
    assert mine and set(mine[0]) == {"uuid", "name", "links"}
    detailed = api.get("/v1/deploy_templates", params={"detail": "true"}).json()
    assert body in detailed["deploy_templates"]
    assert set(api.get(f"/v1/deploy_templates/{name}", params={"fields": "steps"}).json()) \
        == {"steps", "links"}
    renamed = api.patch(f"/v1/deploy_templates/{body['uuid']}", json=[
        {"op": "replace", "path": "/name", "value": name + "_B"},
        {"op": "remove", "path": "/steps/1"}])
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["name"], renamed.json()["steps"]) == (name + "_B", [STEP])
    assert api.delete(f"/v1/deploy_templates/{name}_B").status_code == 204
    assert api.get(f"/v1/deploy_templates/{body['uuid']}").status_code == 404


def test_versions_gate_deploy_templates(api: httpx.Client) -> None:
    old = {"X-OpenStack-Ironic-API-Version": "1.54"}
    assert api.get("/v1/deploy_templates", headers=old).status_code == 404
    answer = api.post("/v1/deploy_templates", json={"name": template_name(), "steps": [STEP]},
                      headers=old)
    assert answer.status_code == 405


BAD_CREATES = [
    ({"steps": [STEP]}, "Missing required field name"),
    ({"name": "lowercase", "steps": [STEP]}, "Deploy template name must be a valid trait"),
    ({"name": "CUSTOM_X"}, "Missing required field steps"),
    ({"name": "CUSTOM_X", "steps": []}, "No deploy steps specified in steps"),
    ({"name": "CUSTOM_X", "steps": [{**STEP, "interface": "boot"}]},
     "steps[0].interface must be one of"),
    ({"name": "CUSTOM_X", "steps": [{**STEP, "priority": -1}]}, "steps[0].priority"),
    ({"name": "CUSTOM_X", "steps": [{**STEP, "priority": True}]}, "steps[0].priority"),
    ({"name": "CUSTOM_X", "steps": [{**STEP, "step": ""}]}, "steps[0].step"),
    ({"name": "CUSTOM_X", "steps": [{**STEP, "args": []}]}, "steps[0].args"),
    ({"name": "CUSTOM_X", "steps": [{"interface": "bios", "step": "x"}]},
     "steps[0]: missing args, priority"),
    ({"name": "CUSTOM_X", "steps": [{**STEP, "colour": 1}]}, "steps[0]: unknown colour"),
    ({"name": "CUSTOM_X", "steps": [STEP, {**STEP, "priority": 1}]},
     "Duplicate deploy steps in steps"),
    ({"name": "CUSTOM_X", "steps": [STEP], "uuid": "nope"}, "Expected a UUID for uuid"),
    ({"name": "CUSTOM_X", "steps": [STEP], "extra": 3}, "Expected an object for extra"),
    ({"name": "CUSTOM_X", "steps": [STEP], "colour": 1},
     "Unknown field(s) in deploy template: colour"),
]


@pytest.mark.parametrize(("body", "message"), BAD_CREATES)
def test_bad_creates_name_the_field_and_change_nothing(
        api: httpx.Client, ingot: IngotServer, body: dict[str, Any], message: str) -> None:
    before = snapshot(ingot)
    answer = api.post("/v1/deploy_templates", json=body)
    assert answer.status_code == 400 and message in fault(answer)
    assert snapshot(ingot) == before


def test_duplicates_and_bad_patches_change_nothing(api: httpx.Client,
                                                   ingot: IngotServer) -> None:
    first, second = template_name(), template_name()
    for name in (first, second):
        assert api.post("/v1/deploy_templates",
                        json={"name": name, "steps": [STEP]}).status_code == 201
    before = snapshot(ingot)
    again = api.post("/v1/deploy_templates", json={"name": first, "steps": [STEP]})
    assert again.status_code == 409 and first in fault(again)
    for ops, status, message in [
            ([{"op": "replace", "path": "/name", "value": second}], 409, second),
            ([{"op": "replace", "path": "/name", "value": "bad name"}], 400, "valid trait"),
            ([{"op": "remove", "path": "/steps/0"}], 400, "No deploy steps"),
            ([{"op": "remove", "path": "/name"}], 400, "'/name' is mandatory"),
            ([{"op": "replace", "path": "/uuid", "value": "x"}], 400, "'/uuid'"),
            ([{"op": "add", "path": "/steps/0/priority", "value": "high"}], 400,
             "steps[0].priority")]:
        answer = api.patch(f"/v1/deploy_templates/{first}", json=ops)
        assert answer.status_code == status and message in fault(answer), answer.text
    assert api.get("/v1/deploy_templates", params={"sort_key": "steps"}).status_code == 400
    assert snapshot(ingot) == before


def test_a_json_suffix_names_the_template_up_to_1_90(api: httpx.Client) -> None:
    name = template_name()
    assert api.post("/v1/deploy_templates", json={"name": name, "steps": [STEP]}
                    ).status_code == 201
    path = f"/v1/deploy_templates/{name}.json"
    assert api.get(path, headers={"X-OpenStack-Ironic-API-Version": "1.90"}).json()[
        "name"] == name
    assert api.delete(path, headers={"X-OpenStack-Ironic-API-Version": "1.91"}
                      ).status_code == 404


def available_fake_node(api: httpx.Client, traits: list[str]) -> str:
    node = api.post("/v1/nodes", json={"driver": "fake-hardware"}).json()["uuid"]
    assert api.put(f"/v1/nodes/{node}/traits", json={"traits": traits}).status_code == 204
    assert api.patch(f"/v1/nodes/{node}", json=[
        {"op": "add", "path": "/instance_info/traits", "value": traits}]).status_code == 200
    for target, state in (("manage", "manageable"), ("provide", "available")):
        assert api.put(f"/v1/nodes/{node}/states/provision",
                       json={"target": target}).status_code == 202
        settled(api, node, state)
    return str(node)


def settled(api: httpx.Client, node: str, state: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        shown = dict(api.get(f"/v1/nodes/{node}").json())
        if shown["provision_state"] == state and not shown["target_provision_state"]:
            return shown
        time.sleep(0.2)
    raise AssertionError(f"node {node} never reached {state}: {shown}")


def test_a_deploy_runs_its_templates_steps_in_priority_order(api: httpx.Client) -> None:
    name = template_name()
    assert api.post("/v1/deploy_templates", json={"name": name, "steps": [
        {"interface": "raid", "step": "create_configuration", "priority": 50, "args": {}},
        {**STEP, "args": {"settings": [{"name": "LogicalProc", "value": "Enabled"}],
                          "password": "s3cret"}}]}).status_code == 201
    node = available_fake_node(api, [name])
    # The request's own steps (1.69) join them, and may change a template's.
    answer = api.put(f"/v1/nodes/{node}/states/provision", headers={V: "1.69"}, json={
        "target": "active", "deploy_steps": [
            {"interface": "raid", "step": "delete_configuration", "priority": 60,
             "args": {}},
            {"interface": "raid", "step": "create_configuration", "priority": 70,
             "args": {"x": 1}}]})
    assert answer.status_code == 202, answer.text
    shown = settled(api, node, "active")
    assert shown["last_error"] is None and shown["deploy_step"] == {}
    ran = shown["driver_internal_info"]["fake_deploy_steps"]
    # bios (150) before the driver's deploy (100), then raid by priority (70, 60).
    assert [(step["step"], step["args"]) for step in ran] == [
        ("bios.apply_configuration", {"settings": [{"name": "LogicalProc",
                                                    "value": "Enabled"}],
                                      "password": "******"}),
        ("raid.create_configuration", {"x": 1}), ("raid.delete_configuration", {})]
    assert "deploy_steps" not in shown["driver_internal_info"]


def test_unknown_deploy_steps_are_a_400_before_anything_changes(
        api: httpx.Client, ingot: IngotServer) -> None:
    name = template_name()
    assert api.post("/v1/deploy_templates", json={"name": name, "steps": [
        {"interface": "bios", "step": "no_such_step", "priority": 10, "args": {}}]}
                    ).status_code == 201
    node = available_fake_node(api, [name])
    plain = available_fake_node(api, [])
    stranger = available_fake_node(api, [])
    assert api.patch(f"/v1/nodes/{stranger}", json=[
        {"op": "add", "path": "/instance_info/traits", "value": ["CUSTOM_NOT_MINE"]}]
                     ).status_code == 200
    before = snapshot(ingot)
    for ident, body, message in [
            (node, {"target": "active"}, "Deploy step bios.no_such_step is not offered"),
            (plain, {"target": "active", "deploy_steps": [
                {"interface": "raid", "step": "build_it", "priority": 1, "args": {}}]},
             "Deploy step raid.build_it is not offered"),
            (plain, {"target": "active", "deploy_steps": [
                {"interface": "raid", "step": "create_configuration", "args": {}}]},
             "needs a priority"),
            (stranger, {"target": "active"},
             "instance traits that are not also node traits: CUSTOM_NOT_MINE")]:
        answer = api.put(f"/v1/nodes/{ident}/states/provision", headers={V: "1.69"},
                         json=body)
        assert answer.status_code == 400 and message in fault(answer), answer.text
    assert snapshot(ingot) == before
