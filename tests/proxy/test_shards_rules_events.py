"""Shards, inspection rules and events through the proxy, with two ingot sites and the
real Ironic one behind it: shard counts are summed per name, inspection rules merge and
are routed by UUID (new ones at the default group's site) and are all deleted at every
site, and an event goes to the site of the port whose MAC address it names. An ingot
site refuses bad inspection rule listings as the Ironic site does."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import httpx

from tests import factories
from tests.proxy.servers import ProxyServer, Sites
from tests.proxy.test_sdk import fault


def _at(url: str, method: str, path: str, version: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, f"{url}{path}", headers={
        "X-OpenStack-Ironic-API-Version": version}, timeout=60, **kwargs)


def _node(client: httpx.Client, group: str, **fields: Any) -> str:
    created = client.post("/v1/nodes", json={"driver": "fake-hardware",
                                             "conductor_group": group, **fields})
    assert created.status_code == 201, created.text
    return str(created.json()["uuid"])


def _counts(body: dict[str, Any]) -> dict[str, int]:
    return {shard["name"]: shard["count"] for shard in body["shards"]}


def test_shards_are_summed_per_name_across_sites(proxy: ProxyServer, sites: Sites) -> None:
    shared, alone = (f"shard-{secrets.token_hex(4)}" for _ in range(2))
    with proxy.client("1.82") as client:
        for group in ("", "grp1", "grp3", "grp3"):
            _node(client, group, shard=shared)
        _node(client, "grp1", shard=alone)
        merged = client.get("/v1/shards")
        assert merged.status_code == 200, merged.text
        counts = _counts(merged.json())
        assert (counts[shared], counts[alone]) == (4, 1)
        # Every other shard is the sum of what the sites say (None: nodes without one).
        direct = [_counts(_at(url, "GET", "/v1/shards", "1.82").json())
                  for url in sites.urls().values()]
        assert counts == {name: sum(site.get(name, 0) for site in direct)
                          for name in set().union(*direct)}
        assert [s["name"] for s in merged.json()["shards"]] == sorted(counts)
        assert client.get("/v1").json()["shards"][0]["href"] == f"{proxy.url}/v1/shards/"
    with proxy.client("1.81") as client:
        assert client.get("/v1/shards").status_code == 404
        assert "shards" not in client.get("/v1").json()


def test_inspection_rules_merge_and_route_by_uuid(proxy: ProxyServer, sites: Sites) -> None:
    version = "1.96"
    path = "/v1/inspection_rules"

    def rule(note: str) -> dict[str, Any]:
        # Ironic 39 answers 500 to a rule without conditions.
        return {"description": note, "priority": 30, "conditions": [],
                "actions": [{"op": "set-attribute", "args": ["/extra/rule", note]}]}

    with proxy.client(version) as client:
        created = client.post(path, json=rule("via the proxy"))
        assert created.status_code == 201, created.text
        assert created.headers["Location"].startswith(f"{proxy.url}{path}/")
        at_default = created.json()["uuid"]
        assert _at(sites.loc1.url, "GET", f"{path}/{at_default}", version).status_code == 200
        assert _at(sites.loc3.url, "GET", f"{path}/{at_default}", version).status_code == 404
        at_ironic = _at(sites.loc3.url, "POST", path, version, json=rule("at Ironic"))
        assert at_ironic.status_code == 201, at_ironic.text
        ironic_uuid = at_ironic.json()["uuid"]

        listed = client.get(path, params={"limit": 1000})
        assert listed.status_code == 200, listed.text
        items = {item["uuid"]: item for item in listed.json()["inspection_rules"]}
        assert {at_default, ironic_uuid} <= set(items)
        assert items[ironic_uuid]["description"] == "at Ironic"
        assert items[ironic_uuid]["links"][0]["href"].startswith(proxy.url)
        detailed = client.get(path, params={"limit": 1000, "detail": "True"}).json()
        actions = {i["uuid"]: i["actions"] for i in detailed["inspection_rules"]}
        assert actions[ironic_uuid][0]["op"] == "set-attribute"
        assert actions[at_default][0]["op"] == "set-attribute"
        paged = client.get(path, params={"limit": 1, "sort_key": "uuid"})
        assert len(paged.json()["inspection_rules"]) == 1
        assert paged.json()["next"].startswith(f"{proxy.url}{path}?")

        patched = client.patch(f"{path}/{ironic_uuid}", json=[
            {"op": "replace", "path": "/description", "value": "patched"}])
        assert patched.status_code == 200, patched.text
        assert _at(sites.loc3.url, "GET", f"{path}/{ironic_uuid}",
                   version).json()["description"] == "patched"
        assert client.get(f"{path}/{at_default}").json()["description"] == "via the proxy"
        for rule_uuid, site in ((ironic_uuid, sites.loc3.url), (at_default, sites.loc1.url)):
            assert client.delete(f"{path}/{rule_uuid}").status_code == 204
            assert _at(site, "GET", f"{path}/{rule_uuid}", version).status_code == 404
        missing = client.get(f"{path}/{uuid.uuid4()}")
        assert missing.status_code == 404 and "could not be found" in fault(missing)
    with proxy.client("1.95") as client:
        assert client.get(path).status_code == 404


def test_deleting_every_inspection_rule_asks_every_site(proxy: ProxyServer,
                                                        sites: Sites) -> None:
    version, path = "1.96", "/v1/inspection_rules"
    rule = {"priority": 1, "conditions": [],
            "actions": [{"op": "set-attribute", "args": ["/extra/rule", "x"]}]}
    for url in sites.urls().values():
        assert _at(url, "POST", path, version, json=rule).status_code == 201
    with proxy.client(version) as client:
        answer = client.delete(path)
        # Ironic 39 documents DELETE /v1/inspection_rules but answers it with a 500: the
        # proxy says which site kept its rules, and which deleted theirs.
        assert answer.status_code == 503, answer.text
        assert fault(answer) == ("Inspection rules were not deleted at site(s) loc3 "
                                 "(answered 500: tuple index out of range); deleted at: "
                                 "loc1, loc2.")
        for name, url in sites.urls().items():
            left = _at(url, "GET", path, version).json()["inspection_rules"]
            assert (len(left) > 0) == (name == "loc3"), (name, left)
        for item in client.get(path).json()["inspection_rules"]:
            assert client.delete(f"{path}/{item['uuid']}").status_code == 204
        # Before 1.96 every site refuses it, as the Ironic site does: the refusal is relayed.
        old = client.delete(path, headers={"X-OpenStack-Ironic-API-Version": "1.95"})
        assert old.status_code == 405, old.text


def test_bad_inspection_rule_listings_are_refused_as_by_ironic(sites: Sites) -> None:
    version, path = "1.96", "/v1/inspection_rules"
    for params in ({"limit": "0"}, {"limit": "x"}, {"sort_dir": "up"},
                   {"sort_key": "actions"}, {"sort_key": "nope"}, {"marker": "nope"},
                   {"marker": str(uuid.uuid4())}, {"foo": "bar"},
                   {"detail": "True", "fields": "uuid"}):
        ironic = _at(sites.loc3.url, "GET", path, version, params=params)
        ingot = _at(sites.loc1.url, "GET", path, version, params=params)
        assert ironic.status_code in (400, 404), (params, ironic.text)
        assert (ingot.status_code, fault(ingot)) == (ironic.status_code, fault(ironic)), \
            params


def test_inspection_rule_listings_show_the_fields_ironic_shows(sites: Sites) -> None:
    version, path = "1.96", "/v1/inspection_rules"
    made = []
    for url in (sites.loc1.url, sites.loc3.url):
        created = _at(url, "POST", path, version, json={
            "description": "fields", "priority": 3, "conditions": [],
            "actions": [{"op": "set-attribute", "args": ["/extra/a", "b"]}]})
        assert created.status_code == 201, created.text
        made.append((url, created.json()["uuid"]))
    try:
        for params in ({}, {"detail": "True"}, {"fields": "uuid,actions"}):
            shown = []
            for url, rule_uuid in made:
                listed = _at(url, "GET", path, version, params=params)
                assert listed.status_code == 200, listed.text
                item, = [item for item in listed.json()["inspection_rules"]
                         if item["uuid"] == rule_uuid]
                shown.append(sorted(item))
            assert shown[0] == shown[1], params
    finally:
        for url, rule_uuid in made:
            _at(url, "DELETE", f"{path}/{rule_uuid}", version)


def _event(mac: str) -> dict[str, Any]:
    return {"event": "network.bind_port", "port_id": str(uuid.uuid4()),
            "mac_address": mac, "status": "ACTIVE"}


def test_events_go_to_the_site_of_their_port(proxy: ProxyServer, sites: Sites) -> None:
    with proxy.client("1.54") as client:
        macs = {}
        for group in ("grp3", ""):
            node = _node(client, group)
            mac = factories.mac("52:54:0b")
            port = client.post("/v1/ports", json={"node_uuid": node, "address": mac})
            assert port.status_code == 201, port.text
            macs[group] = mac
        # The Ironic site takes its port's events.
        sent = client.post("/v1/events", json={"events": [_event(macs["grp3"].upper())]})
        assert sent.status_code == 204, sent.text
        # An ingot site answers for itself (it takes no events): its answer is relayed.
        body = {"events": [_event(macs[""])]}
        direct = _at(sites.loc1.url, "POST", "/v1/events", "1.54", json=body)
        relayed = client.post("/v1/events", json=body)
        assert relayed.status_code == direct.status_code
        assert relayed.status_code != 204
        # Events of several sites: split, each site answering for its own.
        both = client.post("/v1/events", json={"events": [_event(macs["grp3"]),
                                                          _event(macs[""])]})
        assert both.status_code == direct.status_code
        assert fault(both).startswith("Site loc1 refused its events")
        assert "the events for site(s) loc3 were delivered" in fault(both)

        unknown = factories.mac("52:54:0c")
        nowhere = client.post("/v1/events", json={"events": [_event(unknown)]})
        assert nowhere.status_code == 400
        assert f"No site has a port with MAC address {unknown}" in fault(nowhere)
        no_mac = {"event": "network.bind_port", "port_id": str(uuid.uuid4())}
        refused = client.post("/v1/events", json={"events": [no_mac]})
        assert refused.status_code == 400 and "Event 0 has no mac_address" in fault(refused)
        bad: dict[str, Any]
        for bad in ({}, {"events": []}, {"events": "x"}):
            assert client.post("/v1/events", json=bad).status_code == 400
        assert client.post("/v1/events", content=b"[").status_code == 400
    with proxy.client("1.53") as client:
        assert client.post("/v1/events", json={"events": [_event(macs["grp3"])]}
                           ).status_code == 404
