"""The dashboard of a real `ingot serve` in headless Chromium: the fleet view of 1000
nodes (counts, filter, paging, sort), a node page with its secrets masked, a refused
image reference, and a local-vm deploy started from the page and watched live."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import os
import pathlib
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from bench.list_scale import grow
from ingot.db import migrate
from ingot.db.engine import Database
from ingot.demo import image
from tests.servers.ingot import IngotServer
from tests.servers.threaded_http import serve
from tests.ui.browser import screenshot

if TYPE_CHECKING:
    from playwright.sync_api import Page

FLEET = 1000
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngotServer]:
    workdir = tmp_path_factory.mktemp("ui-serve")
    url = f"sqlite:///{workdir}/fleet.sqlite"
    db = Database(url)
    migrate.upgrade(db)
    # bench/list_scale.py's fleet: 99% active, 1 in 100 manageable; in conductor groups
    # g0..g99 that this test's conductor does not serve, so nothing acts on them.
    grow(db, FLEET)
    db.dispose()
    started = IngotServer(workdir, db_url=url, options={
        "local_vm": {"disk_paths": workdir / "vms", "agent_heartbeat_interval": 0.3}}
    ).start()
    try:
        yield started
    finally:
        started.stop()


def _rows(page: Page) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = page.eval_on_selector_all(
        "#nodes tbody tr", """rows => rows.map(r => ({
            name: r.querySelector('.name').textContent,
            uuid: r.querySelector('.uuid').textContent,
            state: r.querySelector('.provision_state').textContent}))""")
    return rows


def test_fleet_view_counts_filters_pages_and_sorts(server: IngotServer, page: Page) -> None:
    page.goto(server.url + "/ui/")
    page.wait_for_selector("#nodes tbody tr")
    assert page.text_content("#total") == str(FLEET)
    counts = dict(page.eval_on_selector_all(
        "#provision-counts li", "items => items.map(i => [i.dataset.state, "
        "Number(i.querySelector('.count').textContent)])"))
    assert counts == {"active": 990, "manageable": 10}
    assert page.text_content("#page-info") == "Page 1 · nodes 1 to 50"
    first = _rows(page)
    assert len(first) == 50
    screenshot(page, "fleet-1000-nodes")

    # Live: a change made elsewhere shows in its row and in the counts, unasked.
    assert page.text_content("#maintenance-count") == "10 in maintenance"
    with server.client("1.78") as api:
        assert api.put(f"/v1/nodes/{first[1]['uuid']}/maintenance",
                       json={"reason": "ui test"}).status_code == 202
    page.wait_for_function(f"document.querySelector('tr[data-uuid=\"{first[1]['uuid']}\"]"
                           f" .maintenance').textContent === 'yes'", timeout=10_000)
    page.wait_for_function("document.querySelector('#maintenance-count').textContent"
                           " === '11 in maintenance'", timeout=10_000)

    # Paging by the API's markers: the next page continues where the first ended.
    page.click("#next")
    page.wait_for_function("document.querySelector('#page-info').textContent"
                           ".startsWith('Page 2')")
    second = _rows(page)
    assert page.text_content("#page-info") == "Page 2 · nodes 51 to 100"
    assert len(second) == 50 and not {r["uuid"] for r in first} & {r["uuid"] for r in second}
    assert int(second[0]["uuid"].replace("-", ""), 16) == \
        int(first[-1]["uuid"].replace("-", ""), 16) + 1
    page.click("#prev")
    page.wait_for_function("document.querySelector('#page-info').textContent"
                           ".startsWith('Page 1')")
    assert _rows(page) == first

    # A filter from the counts: the 10 manageable nodes, and only they.
    page.click("#provision-counts a:text('manageable')")
    page.wait_for_function("document.querySelectorAll('#nodes tbody tr').length === 10")
    assert {r["state"] for r in _rows(page)} == {"manageable"}
    assert "provision_state=manageable" in page.url
    screenshot(page, "fleet-filtered-manageable")

    # Sorting by a column header: names descending.
    page.click("button[type=reset]")
    page.wait_for_function("document.querySelectorAll('#nodes tbody tr').length === 50")
    page.click("th[data-sort=name]")
    page.click("th[data-sort=name]")
    page.wait_for_function("document.querySelector('#nodes tbody .name').textContent"
                           " === 'node-0000999'")
    names = [r["name"] for r in _rows(page)]
    assert names == sorted(names, reverse=True)


def test_node_page_masks_secrets(server: IngotServer, page: Page) -> None:
    page.goto(server.url + "/ui/nodes/node-0000007")
    page.wait_for_function("document.querySelector('#driver_info').textContent.length > 2")
    assert page.text_content("#provision_state") == "manageable"
    driver_info = page.text_content("#driver_info") or ""
    # bench's nodes carry ipmi_password "secret": the API's one redaction policy masks it.
    assert '"ipmi_password": "******"' in driver_info and "secret" not in driver_info
    assert page.text_content("#configdrive") == "none"


class _SlowHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files at about 10 MiB/s, so the progress bar has time to move."""

    def copyfile(self, source: Any, outputfile: Any) -> None:
        while chunk := source.read(MIB // 4):
            outputfile.write(chunk)
            time.sleep(0.025)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _image_server(directory: pathlib.Path) -> contextlib.AbstractContextManager[str]:
    return serve(functools.partial(_SlowHandler, directory=str(directory)))


def _local_vm_node(server: IngotServer, name: str, size_mib: int) -> str:
    disk = server.workdir / "vms" / f"{name}.img"
    disk.parent.mkdir(parents=True, exist_ok=True)
    with server.client("1.78") as api:
        created = api.post("/v1/nodes", json={
            "name": name, "driver": "local-vm", "deploy_interface": "direct",
            "driver_info": {"vm_disk": str(disk), "vm_disk_size": size_mib}})
        assert created.status_code == 201, created.text
        uuid: str = created.json()["uuid"]
        mac = "52:54:00:" + ":".join(f"{b:02x}" for b in os.urandom(3))
        api.post("/v1/ports", json={"node_uuid": uuid, "address": mac}).raise_for_status()
    return uuid


def _wait_state(page: Page, state: str, timeout: float = 60) -> None:
    page.wait_for_function(f"document.querySelector('#provision_state').textContent "
                           f"=== '{state}'", timeout=timeout * 1000)


def test_bad_image_reference_shows_the_api_error(server: IngotServer, page: Page) -> None:
    uuid = _local_vm_node(server, "ui-bad-image", 64)
    page.goto(f"{server.url}/ui/nodes/{uuid}")
    _wait_state(page, "enroll")
    page.click("button[data-provision=manage]")
    _wait_state(page, "manageable")
    page.click("button[data-provision=provide]")
    _wait_state(page, "available")
    page.fill("#deploy input[name=image_source]", "nonsense-ref")
    page.click("#deploy button[type=submit]")
    page.wait_for_function("document.querySelector('#action-error').textContent !== ''")
    error = page.text_content("#action-error") or ""
    # The API's own validation, word for word, and the node did not move.
    assert error.startswith("Deploy refused: Cannot deploy node")
    assert "image_source 'nonsense-ref' has no scheme" in error
    assert page.text_content("#provision_state") == "available"
    screenshot(page, "node-bad-image-reference")


def test_local_vm_deploy_from_the_page(server: IngotServer, page: Page,
                                       tmp_path: pathlib.Path) -> None:
    size = 32
    data = image.build(size)
    (tmp_path / "disk.raw").write_bytes(data)
    uuid = _local_vm_node(server, "ui-deploy", size * 2)
    with server.client("1.78") as api:
        for target, wanted in (("manage", "manageable"), ("provide", "available")):
            assert api.put(f"/v1/nodes/{uuid}/states/provision",
                           json={"target": target}).status_code == 202
            deadline = time.monotonic() + 30
            while api.get(f"/v1/nodes/{uuid}").json()["provision_state"] != wanted:
                assert time.monotonic() < deadline, f"{target} did not reach {wanted}"
                time.sleep(0.1)
    page.goto(f"{server.url}/ui/nodes/{uuid}")
    _wait_state(page, "available")
    page.wait_for_function("document.querySelector('#live').textContent === '● live'")
    # Every width the bar takes, as the page shows it.
    page.evaluate("""() => {
        window.seen = [];
        const bar = document.querySelector('#progress-bar');
        new MutationObserver(() => window.seen.push(Number(bar.dataset.percent)))
            .observe(bar, {attributes: true, attributeFilter: ['data-percent']});
    }""")
    with _image_server(tmp_path) as origin:
        page.fill("#deploy input[name=image_source]", f"{origin}/disk.raw")
        page.fill("#deploy input[name=checksum]", hashlib.sha256(data).hexdigest())
        page.fill("#deploy textarea[name=configdrive]",
                  '{"meta_data": {"hostname": "ui-deploy"}, "user_data": "hello"}')
        page.click("#deploy button[type=submit]")
        page.wait_for_function("window.seen.some(p => p >= 25 && p < 100)", timeout=60_000)
        screenshot(page, "node-deploy-in-progress")
        _wait_state(page, "active", timeout=120)
    page.wait_for_function("window.seen.includes(100)", timeout=10_000)
    seen = page.evaluate("window.seen")
    moving = [p for p in seen if 0 < p < 100]
    assert moving and seen[-1] == 100, seen
    assert page.get_attribute("#progress-bar", "data-percent") == "100.0"
    assert page.text_content("#action-error") == ""
    assert page.text_content("#configdrive") == "present (contents hidden)"
    screenshot(page, "node-deployed-active")
    disk = (server.workdir / "vms" / "ui-deploy.img").read_bytes()
    assert disk[image.SECTOR:len(data)] == data[image.SECTOR:]
