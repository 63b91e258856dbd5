"""The dashboard behind auth_strategy = keystone, in headless Chromium against a real
Keystone: a login form that gets a token, kept in the tab's sessionStorage only."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from tests.servers.ingot import IngotServer
from tests.servers.keystone import DOMAIN, Account
from tests.ui.browser import screenshot

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


def _log_in(page: Page, account: Account, password: str) -> None:
    page.fill("#login input[name=username]", account.username)
    page.fill("#login input[name=password]", password)
    page.fill("#login input[name=project]", account.project_name)
    page.fill("#login input[name=domain]", DOMAIN)
    page.click("#login button[type=submit]")


def test_login_form_gets_a_session_token(ingot_keystone: IngotServer, operator: Account,
                                         observer: Account, browser: Browser) -> None:
    created = httpx.post(ingot_keystone.url + "/v1/nodes", json={
        "name": "ui-keystone", "driver": "fake-hardware"}, headers={
        "X-Auth-Token": operator.token(), "X-OpenStack-Ironic-API-Version": "1.78"})
    assert created.status_code == 201, created.text
    # The data needs a token; the page shell does not (a browser cannot send one).
    assert httpx.get(ingot_keystone.url + "/ui/api/summary").status_code == 401
    incomplete = httpx.post(ingot_keystone.url + "/ui/api/login",
                            json={"username": operator.username, "password": 5})
    assert incomplete.status_code == 400
    assert "Login needs password" in incomplete.json()["error_message"]
    context = browser.new_context()
    try:
        page = context.new_page()
        response = page.goto(ingot_keystone.url + "/ui/")
        assert response is not None and response.status == 200
        page.wait_for_selector("#login:not([hidden])")
        assert page.is_hidden("#main")

        _log_in(page, operator, "wrong")
        page.wait_for_function("document.querySelector('#login-error').textContent !== ''")
        assert page.text_content("#login-error") == \
            "Keystone refused the user name, password, project or domain."
        screenshot(page, "keystone-login-refused")

        # A valid user without a role ingot allows: Keystone says yes, ingot says no.
        _log_in(page, observer, observer.password)
        page.wait_for_function("document.querySelector('#login-error').textContent"
                               ".startsWith('The token')")
        assert "roles do not allow access" in (page.text_content("#login-error") or "")

        _log_in(page, operator, operator.password)
        page.wait_for_selector("#nodes tbody tr")
        assert page.is_hidden("#login")
        assert "ui-keystone" in (page.text_content("#nodes tbody") or "")
        token = page.evaluate("sessionStorage.getItem('ingot-token')")
        assert token and len(token) > 20
        assert page.evaluate("localStorage.length") == 0
        assert token not in page.url
        assert context.cookies() == []
        screenshot(page, "keystone-logged-in")

        # A new tab of a new session has no token: the login form again.
        other = context.new_page()
        other.goto(ingot_keystone.url + "/ui/")
        other.wait_for_selector("#login:not([hidden])")
    finally:
        context.close()
