"""The dashboard behind http_basic: the browser's own credentials prompt, a wrong
password refused by the API's authenticator, the right one let through to the data."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import bcrypt
import httpx
import pytest

from tests.servers.ingot import IngotServer
from tests.ui.browser import screenshot

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture(scope="module")
def basic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngotServer]:
    workdir: pathlib.Path = tmp_path_factory.mktemp("ui-basic")
    htpasswd = workdir / "htpasswd"
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=8)).decode()
    htpasswd.write_text(f"admin:{hashed}\n")
    server = IngotServer(workdir, options={"DEFAULT": {
        "auth_strategy": "http_basic", "http_basic_auth_user_file": htpasswd}}).start()
    try:
        with server.client(auth=("admin", "s3cret")) as api:
            api.post("/v1/nodes", json={"name": "behind-basic", "driver": "fake-hardware"}
                     ).raise_for_status()
        yield server
    finally:
        server.stop()


def test_pages_and_data_ask_for_basic_credentials(basic: IngotServer) -> None:
    for path in ("/ui/", "/ui/nodes/behind-basic", "/ui/api/summary", "/ui/api/events"):
        answer = httpx.get(basic.url + path)
        assert answer.status_code == 401, path
        # The challenge that makes a browser show its password prompt.
        assert answer.headers["WWW-Authenticate"] == 'Basic realm="Baremetal API"'
    # Static files hold no data: the login prompt's page can load them.
    assert httpx.get(basic.url + "/ui/static/ui.css").status_code == 200
    # The Keystone login form's endpoint exists only with Keystone.
    login = httpx.post(basic.url + "/ui/api/login", json={"username": "admin"})
    assert login.status_code == 404 and "could not be found" in login.text


def test_wrong_password_is_refused(basic: IngotServer, browser: Browser) -> None:
    context = browser.new_context(http_credentials={"username": "admin",
                                                    "password": "wrong"})
    try:
        page = context.new_page()
        response = page.goto(basic.url + "/ui/")
        assert response is not None and response.status == 401
        assert page.text_content("#refused") == "Incorrect username or password."
        assert page.query_selector("#nodes") is None
        screenshot(page, "basic-auth-wrong-password")
    finally:
        context.close()


def test_right_password_shows_the_fleet(basic: IngotServer, browser: Browser) -> None:
    context = browser.new_context(http_credentials={"username": "admin",
                                                    "password": "s3cret"})
    try:
        page = context.new_page()
        response = page.goto(basic.url + "/ui/")
        assert response is not None and response.status == 200
        # The page's own API calls carry the credentials the browser was given.
        page.wait_for_selector("#nodes tbody tr")
        assert page.text_content("#nodes tbody .name") == "behind-basic"
        assert page.text_content("#total") == "1"
    finally:
        context.close()
