"""Virtual media (API 1.89 attach/detach, 1.93 list): fake-hardware records what it is
asked through a conductor; a driver without virtual media is a 400 that changes
nothing, and so is bad input."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.assertions import fault, snapshot
from tests.servers.ingot import IngotServer

V = "X-OpenStack-Ironic-API-Version"
ISO = "http://127.0.0.1:1/boot.iso"


@pytest.fixture
def api(ingot: IngotServer) -> Iterator[httpx.Client]:
    with ingot.client("1.93") as client:
        yield client


def shows(api: httpx.Client, node: str, expected: list[dict[str, Any]]) -> None:
    """Wait for a conductor to take up what the API recorded."""
    deadline = time.monotonic() + 30
    while (shown := api.get(f"/v1/nodes/{node}/vmedia").json()) != expected:
        assert time.monotonic() < deadline, shown
        time.sleep(0.2)


def retried(call: Any) -> httpx.Response:
    """A request retried while the node's previous one is still pending (409)."""
    deadline = time.monotonic() + 30
    while (answer := call()).status_code == 409 and time.monotonic() < deadline:
        time.sleep(0.2)
    return answer  # type: ignore[no-any-return]


def test_attach_list_detach_on_fake_hardware(api: httpx.Client) -> None:
    node = api.post("/v1/nodes", json={"driver": "fake-hardware"}).json()["uuid"]
    path = f"/v1/nodes/{node}/vmedia"
    assert api.get(path).json() == []
    attached = api.post(path, json={"device_type": "cdrom", "image_url": ISO})
    assert attached.status_code == 204, attached.text
    cd = {"media_types": ["CD"], "inserted": True, "image": ISO}
    shows(api, node, [cd])
    stick = {"media_types": ["USBStick"], "inserted": True, "image": ISO + "2"}
    assert retried(lambda: api.post(path, json={
        "device_type": "disk", "image_url": ISO + "2", "image_download_source": "http"})
                   ).status_code == 204
    shows(api, node, [cd, stick])
    assert retried(lambda: api.delete(path, params={"device_types": "cdrom"})
                   ).status_code == 204
    shows(api, node, [stick])
    assert retried(lambda: api.delete(path)).status_code == 204
    shows(api, node, [])
    assert api.get(f"/v1/nodes/{node}").json()["last_error"] is None


def test_versions_gate_virtual_media(api: httpx.Client) -> None:
    node = api.post("/v1/nodes", json={"driver": "fake-hardware"}).json()["uuid"]
    path = f"/v1/nodes/{node}/vmedia"
    assert api.get(path, headers={V: "1.92"}).status_code == 404
    assert api.post(path, headers={V: "1.88"},
                    json={"device_type": "cdrom", "image_url": ISO}).status_code == 404
    assert api.delete(path, headers={V: "1.88"}).status_code == 404


@pytest.mark.parametrize(("body", "message"), [
    ({"image_url": ISO}, "device_type must be one of disk, cdrom, floppy"),
    ({"device_type": "usb", "image_url": ISO}, "device_type must be one of"),
    ({"device_type": "cdrom"}, "image_url is required"),
    ({"device_type": "cdrom", "image_url": "file:///etc/passwd"},
     "Unsupported or missing URL scheme in image_url: 'file'"),
    ({"device_type": "cdrom", "image_url": ISO, "image_download_source": "ftp"},
     "image_download_source must be one of"),
    ({"device_type": "cdrom", "image_url": ISO, "username": "u"},
     "Unknown field(s) in virtual media request: username"),
])
def test_bad_attach_names_the_field_and_changes_nothing(
        api: httpx.Client, ingot: IngotServer, body: dict[str, Any], message: str) -> None:
    node = api.post("/v1/nodes", json={"driver": "fake-hardware"}).json()["uuid"]
    before = snapshot(ingot)
    answer = api.post(f"/v1/nodes/{node}/vmedia", json=body)
    assert answer.status_code == 400 and message in fault(answer), answer.text
    bad_detach = api.delete(f"/v1/nodes/{node}/vmedia", params={"device_types": "cdrom,usb"})
    assert bad_detach.status_code == 400 and "Invalid device type(s) usb" in fault(bad_detach)
    assert snapshot(ingot) == before


def test_a_driver_without_virtual_media_is_a_400(api: httpx.Client,
                                                 ingot: IngotServer) -> None:
    node = api.post("/v1/nodes", json={"driver": "local-vm"}).json()["uuid"]
    before = snapshot(ingot)
    for answer in (api.post(f"/v1/nodes/{node}/vmedia",
                            json={"device_type": "cdrom", "image_url": ISO}),
                   api.delete(f"/v1/nodes/{node}/vmedia"),
                   api.get(f"/v1/nodes/{node}/vmedia")):
        assert answer.status_code == 400 and "does not support virtual media" in fault(
            answer), answer.text
    assert snapshot(ingot) == before
    missing = api.post("/v1/nodes/no-such-node/vmedia",
                       json={"device_type": "cdrom", "image_url": ISO})
    assert missing.status_code == 404
