"""Listings in the default order are spliced from the sites' own JSON: the merged answer
means what the full parse gave, any answer of another shape is parsed in full, and a
site whose answer is not JSON still fails."""

from __future__ import annotations

import contextlib
import http.server
import json
import pathlib
import secrets
import socketserver
import time

import httpx
import orjson
import pytest

from ingot.proxy import splice
from tests.proxy.servers import ProxyServer, Sites, proxy_sections
from tests.proxy.stub_site import stub_site
from tests.servers.threaded_http import serve

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
    # A sorted listing also reads each item's sort value (nothing for an item without).
    by_description = splice.split(content, "nodes", "description")
    assert by_description is not None and by_description.items == [
        {"uuid": UUIDS[0], "name": items[0]["name"], "description": AWKWARD},
        {"uuid": UUIDS[1]}]
    assert by_description.raw == parts.raw
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
                     f"/v1/nodes?resource_class={tag}&fields=uuid,description,extra",
                     f"/v1/nodes?resource_class={tag}&sort_key=name&sort_dir=desc",
                     f"/v1/nodes/detail?resource_class={tag}&sort_key=name"):
            want = []
            for url in (sites.loc1.url, sites.loc2.url, sites.loc3.url):  # rank order
                own = httpx.get(url + path, headers=headers, timeout=30)
                assert own.status_code == 200
                # Every link (detail has ports, states... too) under the proxy's URL.
                want += orjson.loads(own.content.replace(url.encode() + b"/",
                                                         proxy.url.encode() + b"/"))["nodes"]
            if "sort_key=name" in path:
                want.sort(key=lambda item: str(item["name"]), reverse="desc" in path)
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


class _PieceSite(http.server.BaseHTTPRequestHandler):
    """A site whose listing arrives in many small pieces: Content-Length framing written
    a few bytes at a time, or as many small HTTP chunks."""

    protocol_version = "HTTP/1.1"
    chunked = False
    asked: list[tuple[int, str]] = []  # (port, path) of each request

    def do_GET(self) -> None:
        port = _port(self.server)
        self.asked.append((port, self.path))
        nodes = _piece_nodes(f"http://127.0.0.1:{port}", port)
        shown = [node for node in nodes if self.path == f"/v1/nodes/{node['uuid']}"]
        body = orjson.dumps({"default_version": {"id": "v1", "min_version": "1.1",
                                                 "version": "1.99", "links": []}}) \
            if self.path == "/" else orjson.dumps(shown[0] if shown else {"nodes": nodes})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if self.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.flush()
        for start in range(0, len(body), 7):
            piece = body[start:start + 7]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if self.chunked else piece)
            self.wfile.flush()
            if start % 700 == 0:
                time.sleep(0.001)  # so that the pieces also arrive in separate reads
        if self.chunked:
            self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format: str, *args: object) -> None:
        pass


def _port(server: socketserver.BaseServer) -> int:
    address = server.server_address
    assert isinstance(address, tuple)
    return int(address[1])


def _piece_nodes(base: str, port: int) -> list[dict[str, object]]:
    nodes: list[dict[str, object]] = []
    for index in range(4):
        uuid = f"00000000-0000-4000-8000-{port:06d}{index:06d}"
        nodes.append({"uuid": uuid, "name": f"node-{index}-{port}", "description": AWKWARD,
                      "links": [{"href": f"{base}/v1/nodes/{uuid}", "rel": "self"},
                                {"href": f"{base}/nodes/{uuid}", "rel": "bookmark"}]})
    return nodes


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_listing_arriving_in_small_pieces_merges_the_same(tmp_path: pathlib.Path,
                                                            chunked: bool) -> None:
    asked: list[tuple[int, str]] = []
    handler = type("Pieces", (_PieceSite,), {"chunked": chunked, "asked": asked})
    with contextlib.ExitStack() as stack:
        urls = {f"s{index}": stack.enter_context(serve(handler)) for index in range(3)}
        proxy = ProxyServer(tmp_path / "proxy", proxy_sections(
            urls, groups="_:s0,grp1:s1,grp2:s2")).start()
        stack.callback(proxy.stop)
        want = []
        for url in urls.values():  # rank (name) order
            for node in _piece_nodes(url, int(url.rsplit(":", 1)[1])):
                want.append(orjson.loads(orjson.dumps(node).replace(url.encode(),
                                                                    proxy.url.encode())))
        with proxy.client() as client:
            for _ in range(2):  # a fresh connection, then a kept-alive one
                listed = client.get("/v1/nodes")
                assert listed.status_code == 200 and MISSING not in listed.headers
                assert listed.json() == {"nodes": want}
                by_name = client.get("/v1/nodes?sort_key=name")
                assert by_name.status_code == 200 and MISSING not in by_name.headers
                assert by_name.json() == {
                    "nodes": sorted(want, key=lambda node: str(node["name"]))}
            # Found by name where the listing said, without asking any other site.
            node = want[5]
            del asked[:]
            shown = client.get(f"/v1/nodes/{node['name']}")
            assert shown.status_code == 200, shown.text
            assert shown.json() == node
            assert asked == [(int(urls["s1"].rsplit(":", 1)[1]),
                              f"/v1/nodes/{node['uuid']}")]
