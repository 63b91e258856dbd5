"""The dashboard of a real `ingot proxy` in front of two real `ingot serve` sites: a
site column, counts summed over the sites, a site's change shown live, and a banner
naming a site that was stopped."""

from __future__ import annotations

import concurrent.futures
import pathlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.proxy.servers import ProxyServer, proxy_sections
from tests.servers.ingot import IngotServer
from tests.ui.browser import screenshot

if TYPE_CHECKING:
    from playwright.sync_api import Page


class TwoSites:
    def __init__(self, workdir: pathlib.Path):
        self.east = IngotServer(workdir / "east", host="east-conductor",
                                options={"conductor": {"conductor_group": ""}})
        self.west = IngotServer(workdir / "west", host="west-conductor",
                                options={"conductor": {"conductor_group": "west"}})
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            for future in [pool.submit(site.start) for site in (self.east, self.west)]:
                future.result()
        self.proxy = ProxyServer(workdir / "proxy", proxy_sections(
            {"east": self.east.url, "west": self.west.url}, groups="_:east,west:west"))
        self.proxy.start()

    def stop(self) -> None:
        for server in (self.proxy, self.east, self.west):
            server.stop()


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoSites]:
    started = TwoSites(tmp_path_factory.mktemp("ui-proxy"))
    try:
        for site, group, count in ((started.east, "", 3), (started.west, "west", 2)):
            with site.client() as api:
                for i in range(count):
                    api.post("/v1/nodes", json={
                        "name": f"{site.workdir.name}-{i}", "driver": "fake-hardware",
                        "conductor_group": group}).raise_for_status()
        yield started
    finally:
        started.stop()


def _sites_column(page: Page) -> dict[str, str]:
    rows: list[list[str]] = page.eval_on_selector_all(
        "#nodes tbody tr", "rows => rows.map(r => [r.querySelector('.name').textContent, "
        "r.querySelector('.site').textContent])")
    return dict((name, site) for name, site in rows)


def test_proxy_view_names_the_site_that_stopped(sites: TwoSites, page: Page) -> None:
    page.goto(sites.proxy.url + "/ui/")
    page.wait_for_function("document.querySelectorAll('#nodes tbody tr').length === 5")
    page.wait_for_function("document.querySelector('#total').textContent === '5'")
    assert _sites_column(page) == {"east-0": "east", "east-1": "east", "east-2": "east",
                                   "west-0": "west", "west-1": "west"}
    assert page.is_hidden("#banner")
    # Live across sites: a change at a site reaches the proxy's page through the
    # site's event stream, relayed.
    page.wait_for_function("document.querySelector('#live').textContent === '● live'")
    with sites.west.client() as api:
        assert api.put("/v1/nodes/west-1/maintenance", json={"reason": "ui"}
                       ).status_code == 202
    page.wait_for_function("[...document.querySelectorAll('#nodes tbody tr')].some(r =>"
                           " r.querySelector('.name').textContent === 'west-1' &&"
                           " r.querySelector('.maintenance').textContent === 'yes')",
                           timeout=10_000)
    screenshot(page, "proxy-two-sites")

    sites.west.stop()
    page.reload()
    page.wait_for_selector("#banner:not([hidden])")
    banner = page.text_content("#banner") or ""
    assert banner.startswith("Sites not answering: west") and "east" not in banner
    # The banner comes from the sites' probe, the rows from the listing after it.
    page.wait_for_function("document.querySelectorAll('#nodes tbody tr').length === 3")
    assert _sites_column(page) == {"east-0": "east", "east-1": "east", "east-2": "east"}
    page.wait_for_function("document.querySelector('#total').textContent === '3'")
    assert "west: no answer" in (page.text_content("#site-counts") or "")
    screenshot(page, "proxy-site-down-banner")
