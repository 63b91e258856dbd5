"""Config drives from the deploy request to a config-2 partition on the node's disk."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ingot.configdrive.build import build_iso, encode
from tests.assertions import fault, snapshot
from tests.configdrive.disks import find_labelled, read_range
from tests.configdrive.isofiles import read_file
from tests.deploy.nodes import provision, sha256, vm_node
from tests.servers.ingot import IngotServer
from tests.servers.origin import Origin

MIB = 1 << 20


def disk_image(path: pathlib.Path, label: str) -> bytes:
    """A 16 MiB disk image with a partition table of the given label and one partition
    that ends before the end of the disk, leaving room for the config drive."""
    path.write_bytes(os.urandom(16 * MIB))
    subprocess.run(["sfdisk", "--quiet", str(path)], input=f"label: {label}\n,8M,L\n",
                   text=True, check=True, capture_output=True)
    return path.read_bytes()


@pytest.fixture(scope="module")
def images(workdir: pathlib.Path, origin: Origin) -> dict[str, tuple[str, bytes]]:
    found = {}
    for label in ("gpt", "dos"):
        data = disk_image(workdir / f"cd-{label}.raw", label)
        found[label] = (origin.add(f"/cd-{label}.raw", data), data)
    return found


def config_drive_on(disk: pathlib.Path) -> bytes:
    labelled = find_labelled(disk)
    assert len(labelled) == 1, labelled
    return read_range(disk, labelled[0]["offset"], labelled[0]["bytes"])


@pytest.mark.parametrize("label", ["gpt", "dos"])
def test_json_config_drive_lands_on_the_disk(api: httpx.Client, workdir: pathlib.Path,
                                             images: dict[str, tuple[str, bytes]],
                                             label: str) -> None:
    url, data = images[label]
    uuid, disk = vm_node(api, workdir, url, sha256(data))
    meta = {"hostname": "cd-json", "public_keys": {"k": "ssh-ed25519 AAAA"}}
    user_data = "#cloud-config\nruncmd: [echo hi]\n"
    node = provision(api, uuid, "active", ("active", "deploy failed"),
                     configdrive={"meta_data": meta, "user_data": user_data,
                                  "network_data": {"links": [], "networks": [],
                                                   "services": []}})
    assert node["provision_state"] == "active", node["last_error"]
    assert node["instance_info"]["configdrive"] == "******"
    iso = config_drive_on(disk)
    written = json.loads(read_file(iso, "/openstack/latest/meta_data.json"))
    assert written["hostname"] == "cd-json" and written["uuid"] == uuid
    assert read_file(iso, "/openstack/latest/user_data").decode() == user_data
    assert read_file(iso, "/openstack/2012-08-10/user_data").decode() == user_data
    # The image's partition is intact (the tables around it change: a GPT's backup
    # header moves to the end of the bigger disk, a new partition entry is added).
    assert disk.read_bytes()[MIB:9 * MIB] == data[MIB:9 * MIB]


@pytest.mark.parametrize("label", ["gpt", "dos"])
def test_iso_config_drive_lands_on_the_disk(api: httpx.Client, workdir: pathlib.Path,
                                            images: dict[str, tuple[str, bytes]],
                                            label: str) -> None:
    url, data = images[label]
    uuid, disk = vm_node(api, workdir, url, sha256(data))
    iso = build_iso(meta_data={"hostname": "cd-iso"}, user_data=b"\x00binary user data\xff",
                    network_data=None, vendor_data=None, node_uuid=uuid, node_name=None)
    node = provision(api, uuid, "active", ("active", "deploy failed"), configdrive=encode(iso))
    assert node["provision_state"] == "active", node["last_error"]
    landed = config_drive_on(disk)
    assert read_file(landed, "/openstack/latest/meta_data.json") == read_file(
        iso, "/openstack/latest/meta_data.json")
    assert read_file(landed, "/openstack/latest/user_data") == b"\x00binary user data\xff"


def _gzip_b64(payload: bytes) -> str:
    import base64  # noqa: PLC0415 - only here
    import gzip  # noqa: PLC0415

    # mtime=0: the same bytes in every process, so parallel workers collect the same ids.
    return base64.b64encode(gzip.compress(payload, mtime=0)).decode()


@pytest.fixture
def available(api: httpx.Client, workdir: pathlib.Path,
              images: dict[str, tuple[str, bytes]]) -> Iterator[str]:
    url, data = images["gpt"]
    yield vm_node(api, workdir, url, sha256(data))[0]


@pytest.mark.parametrize("drive,status,message", [
    ("not base64 at all!", 400, "base64"),
    ("aGVsbG8gd29ybGQ=", 400, "gzip"),
    (_gzip_b64(b"hello, this is not an ISO"), 400, "ISO"),
    (_gzip_b64(b"\0" * (65 * MIB)), 413, "64 MiB"),
    ("ftp://example.com/drive", 400, "URL"),
])
def test_bad_config_drives_are_refused(api: httpx.Client, server: IngotServer,
                                       available: str, drive: str, status: int,
                                       message: str) -> None:
    before = snapshot(server)
    response = api.put(f"/v1/nodes/{available}/states/provision",
                       json={"target": "active", "configdrive": drive})
    assert response.status_code == status
    assert message in fault(response)
    assert "configdrive" in fault(response).lower() or "config drive" in fault(response)
    assert snapshot(server) == before


def test_bad_json_config_drive_is_refused(api: httpx.Client, server: IngotServer,
                                          available: str) -> None:
    before = snapshot(server)
    bad: dict[str, Any] = {"meta_data": "not an object"}
    response = api.put(f"/v1/nodes/{available}/states/provision",
                       json={"target": "active", "configdrive": bad})
    assert response.status_code == 400
    assert "meta_data" in fault(response)
    assert snapshot(server) == before
