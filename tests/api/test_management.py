"""fake-hardware's interfaces as Ironic's: management, console, RAID, vendor passthru
and the drivers' answers about them; bad input is refused naming the field with the
database unchanged (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.assertions import fault
from tests.servers.ingot import IngotServer
from tests.servers.process import wait_until

KINDS = ("bios", "boot", "console", "deploy", "firmware", "inspect", "management", "network",
         "power", "raid", "rescue", "storage", "vendor")


@pytest.fixture
def api(ingot: IngotServer) -> Iterator[httpx.Client]:
    with ingot.client(version="1.115") as client:
        yield client


def test_fake_hardware_has_a_fake_of_every_kind(api: httpx.Client,
                                                node: dict[str, Any]) -> None:
    driver = api.get("/v1/drivers/fake-hardware").json()
    for kind in KINDS:
        expected = "noop" if kind == "network" else "fake"
        assert driver[f"default_{kind}_interface"] == expected, kind
        assert node[f"{kind}_interface"] == expected, kind
    assert driver["enabled_firmware_interfaces"] == ["fake", "no-firmware"]
    assert driver["enabled_raid_interfaces"] == ["fake", "no-raid"]
    validated = api.get(f"/v1/nodes/{node['uuid']}/validate").json()
    assert set(validated) == set(KINDS)
    only = api.get("/v1/drivers/fake-hardware?fields=name,default_raid_interface").json()
    assert set(only) == {"name", "default_raid_interface", "links"}
    assert api.get("/v1/drivers?fields=name,bogus").status_code == 400
    with httpx.Client(base_url=api.base_url,
                      headers={"X-OpenStack-Ironic-API-Version": "1.76"}) as old:
        assert old.get("/v1/drivers?fields=name").status_code == 406
        assert "default_firmware_interface" not in old.get("/v1/drivers/fake-hardware").json()


def test_boot_device(api: httpx.Client, node: dict[str, Any]) -> None:
    base = f"/v1/nodes/{node['uuid']}/management/boot_device"
    assert api.get(base).json() == {"boot_device": "pxe", "persistent": False}
    assert api.get(f"{base}/supported").json() == {"supported_boot_devices": ["pxe"]}
    assert api.put(base, json={"boot_device": "pxe", "persistent": True}).status_code == 204


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("path,body,message", [
    ("management/boot_device", {"boot_device": "cdrom"}, "Invalid boot device cdrom"),
    ("management/boot_device", {"device": "pxe"}, "Unknown field(s) in boot device request"),
    ("management/boot_device", {"boot_device": "pxe", "persistent": "often"},
     "Expected a boolean for persistent"),
    ("management/inject_nmi", {}, "does not support inject_nmi"),
    ("states/boot_mode", {"target": "legacy"}, "Invalid boot mode 'legacy'"),
    ("states/secure_boot", {"target": "sometimes"}, "Invalid secure_boot 'sometimes'"),
    ("states/console", {"enabled": "sometimes"}, "Expected a boolean for enabled"),
    ("states/console", {"on": True}, "The console request is"),
    ("states/raid", {"logical_disks": [{"size_gb": 10}]}, "'raid_level' is a required"),
    ("states/raid", {"logical_disks": [{"size_gb": -1, "raid_level": "1"}]},
     "invalid size_gb -1"),
    ("states/raid", {"logical_disks": [{"size_gb": 1, "raid_level": "1", "x": 1}]},
     "unknown property 'x'"),
])
def test_bad_management_requests(api: httpx.Client, node: dict[str, Any], path: str,
                                 body: dict[str, Any], message: str) -> None:
    response = api.put(f"/v1/nodes/{node['uuid']}/{path}", json=body)
    assert response.status_code == 400, response.text
    assert message in fault(response)


def test_gated_management_endpoints(ingot: IngotServer, node: dict[str, Any]) -> None:
    with ingot.client(version="1.75") as old:
        assert old.put(f"/v1/nodes/{node['uuid']}/states/boot_mode",
                       json={"target": "uefi"}).status_code == 404
    with ingot.client(version="1.28") as old:
        assert old.put(f"/v1/nodes/{node['uuid']}/management/inject_nmi",
                       json={}).status_code == 404
    with ingot.client(version="1.11") as old:
        assert old.put(f"/v1/nodes/{node['uuid']}/states/raid",
                       json={}).status_code == 406
        assert old.get("/v1/drivers/fake-hardware/raid/logical_disk_properties"
                       ).status_code == 406


def test_console_and_raid(api: httpx.Client, node: dict[str, Any]) -> None:
    base = f"/v1/nodes/{node['uuid']}/states"
    assert api.get(f"{base}/console").json() == {"console_enabled": False,
                                                 "console_info": None}
    assert api.put(f"{base}/console", json={"enabled": True}).status_code == 202
    assert api.get(f"{base}/console").json() == {"console_enabled": True, "console_info": {}}
    config = {"logical_disks": [{"size_gb": "MAX", "raid_level": "1", "is_root_volume": True}]}
    assert api.put(f"{base}/raid", json=config).status_code == 204
    assert api.get(base).json()["target_raid_config"] == config
    properties = api.get("/v1/drivers/fake-hardware/raid/logical_disk_properties").json()
    assert {"raid_level", "size_gb", "volume_name"} <= set(properties)
    no_raid = api.patch(f"/v1/nodes/{node['uuid']}",
                        json=[{"op": "replace", "path": "/raid_interface", "value": "no-raid"}])
    assert no_raid.status_code == 200
    assert api.put(f"{base}/raid", json=config).status_code == 404


def test_boot_mode_is_left_to_the_conductor(api: httpx.Client, node: dict[str, Any]) -> None:
    # As Ironic's: the fake management interface does not change boot modes, so the
    # request is accepted and the conductor records why it did nothing.
    response = api.put(f"/v1/nodes/{node['uuid']}/states/boot_mode", json={"target": "uefi"})
    assert response.status_code == 202

    def failed() -> bool:
        shown = api.get(f"/v1/nodes/{node['uuid']}").json()
        return bool(shown["last_error"])
    wait_until(failed, 30, "the boot mode request to be taken up", interval=0.1)
    shown = api.get(f"/v1/nodes/{node['uuid']}").json()
    assert "does not support boot mode" in shown["last_error"]
    assert shown["boot_mode"] is None
    assert shown["provision_state"] == "enroll"


def test_vendor_passthru(api: httpx.Client, node: dict[str, Any]) -> None:
    base = f"/v1/nodes/{node['uuid']}/vendor_passthru"
    methods = api.get(f"{base}/methods").json()
    assert methods["third_method_sync"]["async"] is False
    assert methods["second_method"]["http_methods"] == ["POST"]
    sync = api.post(f"{base}?method=third_method_sync", json={"bar": "meow"})
    assert (sync.status_code, sync.json()) == (200, True)
    assert api.post(f"{base}?method=second_method", json={"bar": "x"}).status_code == 202
    for url, verb, message in ((base, "POST", "Method not specified"),
                               (f"{base}?method=nope", "POST", "No handler for method nope"),
                               (f"{base}?method=second_method", "GET", "does not support HTTP"),
                               (f"{base}?method=second_method", "POST", "'bar' not passed")):
        refused = api.request(verb, url, json={} if verb == "POST" else None)
        assert refused.status_code == 400
        assert message in fault(refused)
    driver = "/v1/drivers/fake-hardware/vendor_passthru"
    assert api.get(f"{driver}/methods").json() == {}
    assert api.post(f"{driver}?method=x", json={}).status_code == 400
    assert api.get("/v1/drivers/no-such/vendor_passthru/methods").status_code == 404


def test_other_drivers_say_what_they_lack(api: httpx.Client) -> None:
    assert api.get("/v1/drivers/fake-hardware/properties").json()["B1"] == \
        "B1 description. Required."
    assert api.get("/v1/drivers/local-vm/properties").status_code == 200
    assert api.get("/v1/drivers/local-vm/raid/logical_disk_properties").status_code == 404
    vm = api.post("/v1/nodes", json={"driver": "local-vm"}).json()
    base = f"/v1/nodes/{vm['uuid']}"
    assert vm["console_interface"] == "no-console"
    assert vm["bios_interface"] == "no-bios"
    for verb, path, body in (("GET", "management/boot_device", None),
                             ("PUT", "management/boot_device", {"boot_device": "pxe"}),
                             ("GET", "states/console", None),
                             ("PUT", "states/console", {"enabled": True})):
        refused = api.request(verb, f"{base}/{path}", json=body)
        assert refused.status_code == 400
        assert "Driver local-vm does not support" in fault(refused)
    assert api.put(f"{base}/states/raid", json={}).status_code == 404
    assert api.get(f"{base}/vendor_passthru/methods").json() == {}
    assert api.delete(base).status_code == 204
