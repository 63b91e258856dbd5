"""No secret of a node in any API answer or server log line, at any microversion.

Every secret is a unique random string; the raw bytes of every answer and the whole log
of the server (at debug level) are searched for each of them.
"""

from __future__ import annotations

import pathlib
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ingot.db.models import utcnow
from tests import factories
from tests.conftest import BACKENDS, running_ingot
from tests.servers.ingot import IngotServer
from tests.servers.process import free_port

VERSIONS = ["1.1", "1.8", "1.22", "1.31", "1.43", "1.56", "1.61", "1.62", "1.72", "1.73"]
MASKED_FIELDS = ("driver_info", "instance_info", "driver_internal_info", "last_error")


class Secrets:
    """Unique secret strings and the node fields that carry them."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def new(self, label: str) -> str:
        value = f"{label}{secrets.token_hex(8)}"
        self.values[label] = value
        return value

    def driver_info(self, port: int) -> dict[str, Any]:
        return {
            "vm_disk": f"/nonexistent/{uuid.uuid4().hex}.img",
            "snmp_auth_key": self.new("snmpauth"), "snmp_priv_key": self.new("snmppriv"),
            "swift_temp_url_key": self.new("tempurlkey"), "api_key": self.new("apikey"),
            "bmc_passwd": self.new("bmcpasswd"), "ipmi_password": self.new("ipmipw"),
            "redfish_password": self.new("redfishpw"),
            "credentials": {"user": "admin", "secret": self.new("credsecret")},
            "some_token": self.new("sometoken"),
            "image_http_proxy": f"http://proxyuser:{self.new('proxypw')}@127.0.0.1:{port}",
            "image_https_proxy": f"proxyuser:{self.new('bareproxypw')}@127.0.0.1:{port}",
        }

    def instance_info(self, port: int) -> dict[str, Any]:
        return {
            "image_source": f"http://imguser:{self.new('sourcepw')}@127.0.0.1:{port}/i.raw",
            "image_checksum": f"http://sumuser:{self.new('checksumpw')}@127.0.0.1:{port}/SUMS",
            "image_url": (f"http://127.0.0.1:{port}/v1/AUTH_a/c/o?temp_url_sig="
                          f"{self.new('tempurlsig')}&temp_url_expires=2000000000"),
            "image_s3": (f"https://s3.example.com/b/o?X-Amz-Credential={self.new('amzcred')}"
                         f"&X-Amz-Signature={self.new('amzsig')}&X-Amz-Expires=60"),
            "image_s3v2": f"https://s3.example.com/b/o?Signature={self.new('s3v2sig')}",
            "swift_key": self.new("swiftkey"),
            "image_disk_format": "raw",
        }


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[IngotServer]:
    workdir = tmp_path_factory.mktemp(f"secrets-{request.param}")
    with running_ingot(request.param, workdir, options={
            "DEFAULT": {"debug": True},
            "local_vm": {"disk_paths": "/nonexistent"}}) as running:
        yield running


@pytest.fixture
def api(server: IngotServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def _assert_clean(what: str, raw: str, known: Secrets) -> None:
    leaked = [label for label, value in known.values.items() if value in raw]
    assert not leaked, f"{what} shows {leaked}: {raw[:2000]}"


def test_no_secret_in_any_answer_or_log_line(server: IngotServer, api: httpx.Client) -> None:
    known = Secrets()
    port = free_port()  # nothing listens: the deploy below fails on the image
    answers: list[tuple[str, httpx.Response]] = []

    def keep(what: str, response: httpx.Response) -> httpx.Response:
        answers.append((what, response))
        return response

    created = keep("create", api.post("/v1/nodes", json={
        "driver": "local-vm", "deploy_interface": "direct", "name": factories.name("sec"),
        "driver_info": known.driver_info(port), "instance_info": known.instance_info(port),
    }))
    assert created.status_code == 201, created.text
    node_uuid = created.json()["uuid"]
    mac = factories.mac("52:54:05")
    assert api.post("/v1/ports", json={"address": mac, "node_uuid": node_uuid}
                    ).status_code == 201
    # What a deploy leaves in driver_internal_info: the agent's image_info, with URLs.
    server.set_node(node_uuid, driver_internal_info={"agent_image_info": {
        "urls": [known.instance_info(port)["image_source"]],
        "proxies": {"http": known.driver_info(port)["image_http_proxy"]}}},
        last_error=f"GET {known.instance_info(port)['image_url']} failed",
        provision_state="wait call-back", target_provision_state="active",
        provision_updated_at=utcnow())

    for version in VERSIONS:
        with server.client(version) as client:
            keep(f"GET {version}", client.get(f"/v1/nodes/{node_uuid}"))
            keep(f"detail {version}", client.get("/v1/nodes/detail"))
            keep(f"list {version}", client.get("/v1/nodes"))
            minor = int(version.split(".")[1])
            if minor >= 8:
                for field in MASKED_FIELDS:
                    keep(f"fields={field} {version}",
                         client.get(f"/v1/nodes/{node_uuid}", params={"fields": field}))
                    keep(f"list fields={field} {version}",
                         client.get("/v1/nodes", params={"fields": f"uuid,{field}"}))
            if minor >= 43:
                keep(f"list detail=True {version}",
                     client.get("/v1/nodes", params={"detail": "True"}))
            if minor >= 22:
                keep(f"lookup {version}", client.get(
                    "/v1/lookup", params={"node_uuid": node_uuid}))
                keep(f"lookup by MAC {version}", client.get(
                    "/v1/lookup", params={"addresses": mac}))
            keep(f"states {version}", client.get(f"/v1/nodes/{node_uuid}/states"))
            keep(f"validate {version}", client.get(f"/v1/nodes/{node_uuid}/validate"))

    lookup = api.get("/v1/lookup", params={"node_uuid": node_uuid}).json()["node"]
    assert lookup["instance_info"] == {} and lookup["driver_internal_info"] == {}
    server.set_node(node_uuid, provision_state="available", target_provision_state=None)

    # PATCH adds more secrets; its answer must mask them too, and so must the errors of
    # refused values.
    patched = keep("patch", api.patch(f"/v1/nodes/{node_uuid}", json=[
        {"op": "add", "path": "/driver_info/new_password", "value": known.new("patchpw")},
        {"op": "add", "path": "/instance_info/image_source",
         "value": f"https://u:{known.new('patchsourcepw')}@127.0.0.1:{port}/x.raw"},
    ]))
    assert patched.status_code == 200, patched.text
    shown = patched.json()
    assert shown["driver_info"]["new_password"] == "******"
    assert shown["driver_info"]["snmp_auth_key"] == "******"
    assert shown["driver_info"]["image_http_proxy"] == f"http://******@127.0.0.1:{port}"
    assert shown["instance_info"]["image_source"] == f"https://******@127.0.0.1:{port}/x.raw"
    keep("bad proxy", api.patch(f"/v1/nodes/{node_uuid}", json=[
        {"op": "add", "path": "/driver_info/image_http_proxy",
         "value": f"ftp://u:{known.new('badproxypw')}@proxy:21"}]))
    keep("bad proxy validate", api.get(f"/v1/nodes/{node_uuid}/validate"))

    # A deploy that fails on the image: the conductor logs and records the error.
    server.set_node(node_uuid, last_error=None, driver_internal_info={})
    keep("fixed proxy", api.patch(f"/v1/nodes/{node_uuid}", json=[
        {"op": "remove", "path": "/driver_info/image_http_proxy"},
        {"op": "remove", "path": "/driver_info/image_https_proxy"},
        {"op": "remove", "path": "/instance_info/image_checksum"},
        {"op": "add", "path": "/instance_info/image_os_hash_algo", "value": "sha256"},
        {"op": "add", "path": "/instance_info/image_os_hash_value", "value": "0" * 64}]))
    deploying = keep("deploy", api.put(f"/v1/nodes/{node_uuid}/states/provision",
                                       json={"target": "active"}))
    assert deploying.status_code == 202, deploying.text
    failed = _wait_for(api, node_uuid, "deploy failed")
    answers.append(("failed node", failed))
    assert failed.json()["last_error"]

    for what, response in answers:
        assert response.status_code < 500, (what, response.text)
        _assert_clean(what, response.text, known)
    _assert_clean("the server log", server.log(), known)


def _wait_for(api: httpx.Client, node_uuid: str, state: str) -> httpx.Response:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        response = api.get(f"/v1/nodes/{node_uuid}")
        if response.json()["provision_state"] == state:
            return response
        time.sleep(0.2)
    raise AssertionError(f"node never reached {state}: {response.text}")


def test_log_lines_are_redacted_whatever_their_source(tmp_path: pathlib.Path) -> None:
    """The CLI's logging setup redacts every record, third-party ones included."""
    secret = secrets.token_hex(8)
    script = (
        "import logging\n"
        "from oslo_config import cfg\n"
        "from ingot.cli import runtime\n"
        "from ingot.conf import CONF\n"
        "CONF([], project='ingot', default_config_files=[])\n"
        "runtime.setup_logging(CONF)\n"
        f"logging.getLogger('somelib').warning('GET http://u:{secret}@h/x?temp_url_sig="
        f"{secret}')\n"
        "try:\n"
        f"    raise ValueError({{'bmc_passwd': '{secret}'}})\n"
        "except ValueError:\n"
        "    logging.getLogger('uvicorn.error').exception('failed')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr
    assert "temp_url_sig=******" in done.stderr and "'bmc_passwd': '******'" in done.stderr
    assert secret not in done.stderr
