"""The proxy with Keystone on both sides: it validates its callers' tokens, and logs in
to a Keystone-protected ingot site with its own credentials (ironic-proxy's
[group:NAME] password options), as ironic-proxy's README sets it up."""

from __future__ import annotations

import pathlib

from tests.proxy.servers import ProxyServer, proxy_sections
from tests.proxy.test_sdk import fault
from tests.servers.ingot import IngotServer
from tests.servers.keystone import Account, KeystoneServer


def test_proxy_with_keystone_both_ways(tmp_path: pathlib.Path, keystone: KeystoneServer,
                                       service_account: Account, operator: Account,
                                       observer: Account,
                                       ingot_keystone: IngotServer) -> None:
    site_login = {key: value for key, value in keystone.authtoken_options(service_account)
                  .items() if key != "www_authenticate_uri"}
    sections = proxy_sections({}, groups="_:edge", options={
        "api": {"auth_strategy": "keystone"},
        "keystone_authtoken": keystone.authtoken_options(service_account),
        "group:edge": {**site_login, "endpoint_override": ingot_keystone.url},
    })
    proxy = ProxyServer(tmp_path / "proxy", sections).start()
    try:
        with proxy.client() as anonymous:
            refused = anonymous.get("/v1/nodes")
            assert refused.status_code == 401
            assert "X-Auth-Token" in fault(refused)
        with proxy.client() as garbage:
            garbage.headers["X-Auth-Token"] = "not-a-token"
            assert garbage.get("/v1/nodes").status_code == 401
        with proxy.client() as member:
            # Any valid token, whatever its roles, as ironic-proxy takes it.
            member.headers["X-Auth-Token"] = observer.token()
            assert member.get("/v1/nodes").status_code == 200
        with proxy.client() as client:
            client.headers["X-Auth-Token"] = operator.token()
            created = client.post("/v1/nodes", json={"driver": "fake-hardware",
                                                     "name": "behind-keystone"})
            assert created.status_code == 201, created.text
            names = [n["name"] for n in client.get("/v1/nodes").json()["nodes"]]
            assert "behind-keystone" in names
            assert client.delete("/v1/nodes/behind-keystone").status_code == 204
    finally:
        proxy.stop()
    log = proxy.log()
    for secret in (service_account.password, operator.password):
        assert secret not in log


def test_proxy_keystone_allowed_roles_restricts_tokens(
        tmp_path: pathlib.Path, keystone: KeystoneServer, service_account: Account,
        operator: Account, observer: Account, ingot_keystone: IngotServer) -> None:
    site_login = {key: value for key, value in keystone.authtoken_options(service_account)
                  .items() if key != "www_authenticate_uri"}
    sections = proxy_sections({}, groups="_:edge", options={
        "api": {"auth_strategy": "keystone", "keystone_allowed_roles": "admin"},
        "keystone_authtoken": keystone.authtoken_options(service_account),
        "group:edge": {**site_login, "endpoint_override": ingot_keystone.url},
    })
    proxy = ProxyServer(tmp_path / "proxy", sections).start()
    try:
        with proxy.client() as member:
            member.headers["X-Auth-Token"] = observer.token()
            assert member.get("/v1/nodes").status_code == 403
        with proxy.client() as admin:
            admin.headers["X-Auth-Token"] = operator.token()
            assert admin.get("/v1/nodes").status_code == 200
    finally:
        proxy.stop()
