"""Driving local-vm nodes through the API in deploy tests."""

from __future__ import annotations

import hashlib
import pathlib
import time
from typing import Any

import httpx

from tests import factories

# As in Ironic 39, aborting a node in wait call-back needs API 1.110 (406 before).
ABORT_IN_WAIT_CALL_BACK = {"X-OpenStack-Ironic-API-Version": "1.110"}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def wait_for(api: httpx.Client, uuid: str, states: tuple[str, ...],
             timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    node: dict[str, Any] = {}
    while time.monotonic() < deadline:
        node = api.get(f"/v1/nodes/{uuid}").json()
        if node["provision_state"] in states:
            return node
        time.sleep(0.1)
    raise AssertionError(f"node stuck in {node.get('provision_state')}: "
                         f"{node.get('last_error')}")


def provision(api: httpx.Client, uuid: str, target: str, states: tuple[str, ...],
              **body: Any) -> dict[str, Any]:
    response = api.put(f"/v1/nodes/{uuid}/states/provision", json={"target": target, **body})
    assert response.status_code == 202, response.text
    return wait_for(api, uuid, states)


def vm_node(api: httpx.Client, workdir: pathlib.Path, image_url: str, digest: str,
            disk_format: str = "raw", **driver_info: Any) -> tuple[str, pathlib.Path]:
    """An available local-vm node set up to deploy image_url."""
    disk = workdir / "vms" / f"{factories.name('disk')}.img"
    node = api.post("/v1/nodes", json={
        "driver": "local-vm", "deploy_interface": "direct",
        "driver_info": {"vm_disk": str(disk), "vm_disk_size": 32, **driver_info},
        "instance_info": {"image_source": image_url, "image_os_hash_algo": "sha256",
                          "image_os_hash_value": digest, "image_disk_format": disk_format},
    })
    assert node.status_code == 201, node.text
    uuid = node.json()["uuid"]
    assert api.post("/v1/ports", json={"node_uuid": uuid, "address": factories.mac()}
                    ).status_code == 201
    assert provision(api, uuid, "manage", ("manageable",))["provision_state"] == "manageable"
    provided = provision(api, uuid, "provide", ("available", "clean failed"))
    assert provided["provision_state"] == "available", provided["last_error"]
    return uuid, disk


def deploy(api: httpx.Client, uuid: str) -> dict[str, Any]:
    return provision(api, uuid, "active", ("active", "deploy failed"))
