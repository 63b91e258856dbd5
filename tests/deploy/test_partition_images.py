"""Partition images on local-vm nodes, through the API and the agent process.

The root file system image is a small ext4 made here (mkfs.ext4 -d); the agent lays out
the disk file (through a loop device), writes it onto the root partition, makes swap
and the ephemeral file system, adds the config drive, and asks for GRUB, which this
image lacks (driver_info ignore_bootloader_failure; tests/deploy/test_qemu_partition.py
boots an image with GRUB). A rebuild with preserve_ephemeral keeps a file written on
the ephemeral partition; one without it does not.
"""

from __future__ import annotations

import json
import pathlib

import httpx
import pytest

from tests import factories
from tests.configdrive.isofiles import read_file
from tests.deploy.nodes import provision, sha256, wait_for
from tests.deploy.partitions import partition_file, partitions, probe, root_image, tool
from tests.servers.origin import Origin

MIB = 1 << 20


@pytest.fixture(scope="module")
def image(workdir: pathlib.Path, origin: Origin) -> tuple[str, bytes]:
    data = root_image(workdir / "root.ext4", "first")
    return origin.add("/root.ext4", data), data


def test_partition_image_swap_ephemeral_config_drive_and_preserved_rebuild(
        api: httpx.Client, workdir: pathlib.Path, origin: Origin,
        image: tuple[str, bytes]) -> None:
    tool("losetup")
    url, data = image
    disk = workdir / "vms" / f"{factories.name('part')}.img"
    created = api.post("/v1/nodes", json={
        "driver": "local-vm", "deploy_interface": "direct",
        "driver_info": {"vm_disk": str(disk), "vm_disk_size": 32,
                        "ignore_bootloader_failure": True},
        "instance_info": {"image_source": url, "image_os_hash_algo": "sha256",
                          "image_os_hash_value": sha256(data), "image_disk_format": "raw",
                          "kernel": f"{origin.url}/k", "ramdisk": f"{origin.url}/r",
                          "root_gb": 1, "swap_mb": 16, "ephemeral_gb": 1,
                          "capabilities": {"disk_label": "gpt"}}})
    assert created.status_code == 201, created.text
    node = created.json()["uuid"]
    assert api.post("/v1/ports", json={"node_uuid": node, "address": factories.mac()}
                    ).status_code == 201
    provision(api, node, "manage", ("manageable",))
    assert provision(api, node, "provide", ("available",))["provision_state"] == "available"
    deployed = provision(api, node, "active", ("active", "deploy failed"),
                         configdrive={"meta_data": {"hostname": "part-host"}})
    assert deployed["provision_state"] == "active", deployed["last_error"]

    # GPT on BIOS: BIOS boot, ephemeral, swap, root (1 MiB aligned), then the drive.
    parts = partitions(disk)
    sizes = [(p.get("name"), p["size"] * 512 // MIB) for p in parts]
    assert sizes[:4] == [("bios_boot", 1), ("ephemeral", 1024), ("swap", 16),
                         ("root", 1024)], sizes
    assert [p["start"] * 512 // MIB for p in parts[:4]] == [1, 2, 1026, 1042]
    assert probe(disk, parts[2]).get("TYPE") == "swap"
    assert probe(disk, parts[2]).get("LABEL") == "swap1"
    ephemeral = probe(disk, parts[1])
    assert (ephemeral.get("TYPE"), ephemeral.get("LABEL")) == ("ext4", "ephemeral0")
    root = probe(disk, parts[3])
    assert (root.get("TYPE"), root.get("LABEL")) == ("ext4", "root")
    # The image's file system (mounted since, for the bootloader: not byte-equal).
    assert partition_file(disk, parts[3], "etc/marker") == "first"
    drive = probe(disk, parts[4])
    assert drive.get("LABEL") == "config-2", drive
    with open(disk, "rb") as f:
        f.seek(parts[4]["start"] * 512)
        iso = f.read(parts[4]["size"] * 512)
    assert json.loads(read_file(iso, "/openstack/latest/meta_data.json"))["hostname"] == \
        "part-host"

    # Rebuild keeping the ephemeral partition: the file written there stays.
    assert partition_file(disk, parts[1], "kept", write="keep me") == "keep me"
    patched = api.patch(f"/v1/nodes/{node}", json=[
        {"op": "add", "path": "/instance_info/preserve_ephemeral", "value": True}])
    assert patched.status_code == 200, patched.text
    rebuilt = provision(api, node, "rebuild", ("deploying", "wait call-back", "active",
                                                "deploy failed"))
    rebuilt = wait_for(api, node, ("active", "deploy failed"))
    assert rebuilt["provision_state"] == "active", rebuilt["last_error"]
    assert partition_file(disk, partitions(disk)[1], "kept") == "keep me"

    # Without it the ephemeral file system is made anew.
    patched = api.patch(f"/v1/nodes/{node}", json=[
        {"op": "replace", "path": "/instance_info/preserve_ephemeral", "value": False}])
    assert patched.status_code == 200, patched.text
    provision(api, node, "rebuild", ("deploying", "wait call-back", "active",
                                      "deploy failed"))
    rebuilt = wait_for(api, node, ("active", "deploy failed"))
    assert rebuilt["provision_state"] == "active", rebuilt["last_error"]
    assert partition_file(disk, partitions(disk)[1], "kept") == ""


def test_preserving_an_ephemeral_partition_that_is_not_there_fails_the_deploy(
        api: httpx.Client, workdir: pathlib.Path, origin: Origin,
        image: tuple[str, bytes]) -> None:
    url, data = image
    disk = workdir / "vms" / f"{factories.name('part')}.img"
    created = api.post("/v1/nodes", json={
        "driver": "local-vm", "deploy_interface": "direct",
        "driver_info": {"vm_disk": str(disk), "vm_disk_size": 32,
                        "ignore_bootloader_failure": True},
        "instance_info": {"image_source": url, "image_os_hash_algo": "sha256",
                          "image_os_hash_value": sha256(data), "image_type": "partition",
                          "kernel": f"{origin.url}/k", "ramdisk": f"{origin.url}/r",
                          "root_gb": 1, "ephemeral_gb": 1, "preserve_ephemeral": True}})
    assert created.status_code == 201, created.text
    node = created.json()["uuid"]
    assert api.post("/v1/ports", json={"node_uuid": node, "address": factories.mac()}
                    ).status_code == 201
    provision(api, node, "manage", ("manageable",))
    provision(api, node, "provide", ("available",))
    failed = provision(api, node, "active", ("active", "deploy failed"))
    assert failed["provision_state"] == "deploy failed"
    assert "preserve_ephemeral" in failed["last_error"], failed["last_error"]
