"""Listings in the default order are spliced from the sites' own JSON: the merged answer
means what the full parse gave, any answer of another shape is parsed in full, and a
site whose answer is not JSON still fails."""

from __future__ import annotations

import json
import pathlib
import secrets

import httpx
import orjson
import pytest

from ingot.proxy import splice
from tests.proxy.servers import ProxyServer, Sites, proxy_sections
from tests.proxy.stub_site import stub_site

MISSING = "X-Ingot-Missing-Sites"
UUIDS = ("0b8e7a0e-3c55-4a57-9d0c-5f2b6b3f4c01", "6f1d9a3e-8a6b-4b7e-9d7c-2f4a1e0c9b02")
# A description as awkward as JSON strings get: quotes, backslashes, escapes, non-ASCII.
AWKWARD = 'say "hi" \\ back\tslash \u00e9t\u00e9 \u2603 \U0001f600 {"uuid":"x"},"name":'


def _page(dumps: bool) -> tuple[bytes, list[dict[str, object]]]:
    items: list[dict[str, object]] = [
        {"uuid": UUIDS[0], "name": 'esc"aped\\name\u00e9', "description": AWKWARD,
         "extra": {"n": 1.5, "list": [1, None, True]}, "links": []},
        # Another key order and no name at all (a fields listing).
        {"links": [{"href": "http://x/v1/nodes/1", "rel": "self"}], "uuid": UUIDS[1]},
    ]
    body = {"nodes": items, "next": "http://x/v1/nodes?marker=1"}
    # Python's json (Ironic: spaces, \u escapes) or orjson (ingot: compact, UTF-8).
    return (json.dumps(body).encode() if dumps else orjson.dumps(body)), items


@pytest.mark.parametrize("dumps", [True, False], ids=["ironic-json", "ingot-orjson"])
def test_split_means_what_the_full_parse_gives(dumps: bool) -> None:
    content, items = _page(dumps)
    parts = splice.split(content, "nodes")
    assert parts is not None
    assert parts.items == [{"uuid": UUIDS[0], "name": items[0]["name"]}, {"uuid": UUIDS[1]}]
    assert parts.more
    assert orjson.loads(b"[" + b",".join(parts.raw) + b"]") == items
    joined = splice.join("nodes", parts.raw, orjson.dumps("http://proxy/next"))
    assert orjson.loads(joined) == {"nodes": items, "next": "http://proxy/next"}
    assert orjson.loads(splice.join("nodes", parts.raw[1:], None)) == {"nodes": items[1:]}
    assert orjson.loads(splice.join("nodes", [], None)) == {"nodes": []}


@pytest.mark.parametrize("content", [
    b'{"nodes":[{"uuid":"a","name":"b"}x]}',  # framing right, JSON wrong
    b'{"nodes":[{"uuid":"a","name":"b"}]',  # cut short
    b'{"nodes":[{"uuid":"a","rel":"bad \xff utf-8"}]}',  # in a string nothing else reads
    b'{"nodes":[{"uuid":"a","maintenance":fals}]}',
    b'{"nodes":{"uuid":"a"}}',  # not a list
    b'{"other":[]}',
    b'[{"uuid":"a"}]',
    b'{"nodes":[1,2]}',  # items that are not objects
    b"<html>busy</html>",
], ids=["garbage", "truncated", "bad-utf8", "bad-literal", "not-a-list", "no-nodes",
        "not-an-object", "not-objects", "html"])
def test_split_leaves_any_other_answer_to_the_full_parse(content: bytes) -> None:
    assert splice.split(content, "nodes") is None


def test_spliced_listing_means_what_the_sites_said(proxy: ProxyServer, sites: Sites) -> None:
    tag = f"splice-{secrets.token_hex(4)}"
    headers = {"X-OpenStack-Ironic-API-Version": "1.73"}
    with proxy.client() as client:
        for index, group in enumerate(("", "grp1", "grp3")):  # one node at each site
            created = client.post("/v1/nodes", json={
                "driver": "fake-hardware", "resource_class": tag, "conductor_group": group,
                "name": f"{tag}-{index}", "description": AWKWARD,
                "extra": {'k"ey': "v\\al", "n": 1.5, "\u00e9": ["\u2603"]}})
            assert created.status_code == 201, created.text
        for path in (f"/v1/nodes?resource_class={tag}",
                     f"/v1/nodes/detail?resource_class={tag}",
                     f"/v1/nodes?resource_class={tag}&fields=uuid,description,extra"):
            want = []
            for url in (sites.loc1.url, sites.loc2.url, sites.loc3.url):  # rank order
                own = httpx.get(url + path, headers=headers, timeout=30)
                assert own.status_code == 200
                # Every link (detail has ports, states... too) under the proxy's URL.
                want += orjson.loads(own.content.replace(url.encode() + b"/",
                                                         proxy.url.encode() + b"/"))["nodes"]
            got = client.get(path)
            assert got.status_code == 200
            assert MISSING not in got.headers
            nodes = got.json()["nodes"]
            assert [item["uuid"] for item in nodes] == [item["uuid"] for item in want]
            for mine, theirs in zip(nodes, want, strict=True):
                assert {k: (mine.get(k), theirs.get(k)) for k in mine | theirs
                        if mine.get(k) != theirs.get(k)} == {}
            assert got.json() == {"nodes": want}
            assert len(want) == 3
            assert {item["description"] for item in want if "description" in item} \
                <= {AWKWARD}


@pytest.mark.parametrize("listing", [
    b'{"nodes":[{"uuid":"' + UUIDS[0].encode() + b'","name":"n"}x]}',
    b'{"nodes":[{"uuid":"' + UUIDS[0].encode() + b'","name":"n","links":[{"rel":"\xff"}]}]}',
], ids=["garbage", "bad-utf8"])
def test_a_site_answering_invalid_json_fails(sites: Sites, tmp_path: pathlib.Path,
                                            listing: bytes) -> None:
    assert httpx.post(f"{sites.loc1.url}/v1/nodes", json={"driver": "fake-hardware"},
                      timeout=30).status_code == 201
    with stub_site(listing=listing) as url:
        server = ProxyServer(tmp_path / "bad", proxy_sections(
            {"loc1": sites.loc1.url, "bad": url}, groups="_:loc1,grp8:bad")).start()
        try:
            with server.client() as client:
                listed = client.get("/v1/nodes?limit=5")
                assert listed.status_code == 200
                assert listed.headers[MISSING] == "bad"
                assert listed.json()["nodes"]  # loc1's, valid JSON
                assert UUIDS[0] not in listed.text
            assert "answered a listing that is not JSON" in server.log()
        finally:
            server.stop()
