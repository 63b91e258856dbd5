"""Deploys from every kind of image reference, through the real API onto local-vm nodes:
Glance (UUID and glance://), file:// (hard link and cross-filesystem copy), swift://
(temp URL straight from Swift, or through the conductor's cache), http with the
conductor's cache."""

from __future__ import annotations

import os
import pathlib
import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests import factories
from tests.assertions import fault
from tests.deploy.nodes import deploy, provision, sha256
from tests.images.sources.mounts import other_filesystem
from tests.servers.glance import GlanceServer
from tests.servers.ingot import IngotServer
from tests.servers.origin import Origin
from tests.servers.swift import SwiftServer

MIB = 1 << 20


@pytest.fixture(scope="module")
def dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, pathlib.Path]]:
    base = tmp_path_factory.mktemp("sources")
    for name in ("vms", "images", "outside"):
        (base / name).mkdir()
    with other_filesystem(base) as other:
        yield {"base": base, "vms": base / "vms", "images": base / "images",
               "outside": base / "outside", "other": other}


@pytest.fixture(scope="module")
def sources_ingot(dirs: dict[str, pathlib.Path], glance: GlanceServer, swift: SwiftServer,
                  account_key: str) -> Iterator[IngotServer]:
    server = IngotServer(dirs["base"] / "ingot", options={
        "local_vm": {"disk_paths": dirs["vms"], "agent_heartbeat_interval": 0.5},
        "conductor": {"file_url_allowed_paths": f"{dirs['images']},{dirs['other']}"},
        "glance": {"auth_type": "none", "endpoint_override": glance.url},
        "swift": swift.swift_options(),
    }).start()
    yield server
    server.stop()


@pytest.fixture
def api(sources_ingot: IngotServer) -> Iterator[httpx.Client]:
    with sources_ingot.client() as client:
        yield client


def node_for(api: httpx.Client, dirs: dict[str, pathlib.Path],
             instance_info: dict[str, Any]) -> tuple[str, pathlib.Path]:
    disk = dirs["vms"] / f"{factories.name('disk')}.img"
    created = api.post("/v1/nodes", json={
        "driver": "local-vm", "driver_info": {"vm_disk": str(disk), "vm_disk_size": 16},
        "instance_info": instance_info, "automated_clean": False})
    assert created.status_code == 201, created.text
    uuid_ = created.json()["uuid"]
    api.post("/v1/ports", json={"node_uuid": uuid_, "address": factories.mac()})
    provision(api, uuid_, "manage", ("manageable",))
    assert provision(api, uuid_, "provide", ("available",))["provision_state"] == "available"
    return uuid_, disk


def test_glance_uuid_and_glance_url_take_digests_from_glance(
        api: httpx.Client, dirs: dict[str, pathlib.Path], glance: GlanceServer) -> None:
    data = os.urandom(4 * MIB)
    image = glance.upload(data, name="ingot-deploy")
    assert image.os_hash_algo == "sha512"
    for reference in (image.id, f"glance://{image.id}"):
        # No checksum in instance_info: Glance's os_hash_value is what the agent checks.
        node, disk = node_for(api, dirs, {"image_source": reference})
        result = deploy(api, node)
        assert result["provision_state"] == "active", result["last_error"]
        assert disk.read_bytes()[:len(data)] == data
        assert result["driver_internal_info"]["agent_progress"]["digest_verified"] is True
    assert glance.data_requests(image.id) == 1  # the second deploy hit the cache


def test_glance_image_that_is_not_active_is_refused(
        api: httpx.Client, dirs: dict[str, pathlib.Path], glance: GlanceServer) -> None:
    queued = glance.create_image(name="never-uploaded")
    node, _disk = node_for(api, dirs, {"image_source": queued})
    result = deploy(api, node)
    assert result["provision_state"] == "deploy failed"
    assert "active" in result["last_error"]


@pytest.mark.parametrize("where", ["images", "other"])
def test_file_images_are_served_by_the_conductor(api: httpx.Client,
                                                 dirs: dict[str, pathlib.Path],
                                                 where: str) -> None:
    data = os.urandom(2 * MIB)
    path = dirs[where] / f"{secrets.token_hex(4)}.raw"
    path.write_bytes(data)
    node, disk = node_for(api, dirs, {"image_source": f"file://{path}",
                                      "image_os_hash_algo": "sha256",
                                      "image_os_hash_value": sha256(data)})
    result = deploy(api, node)
    assert result["provision_state"] == "active", result["last_error"]
    assert disk.read_bytes()[:len(data)] == data
    # Same filesystem: the cache's master is a hard link to the operator's file.
    assert (path.stat().st_nlink > 1) == (where == "images")


def test_file_symlink_out_of_allowed_paths_is_refused_unread(
        api: httpx.Client, dirs: dict[str, pathlib.Path]) -> None:
    secret = dirs["outside"] / "secret.raw"
    secret.write_bytes(b"do not read me" * 1000)
    os.utime(secret, (0, 0))
    link = dirs["images"] / "escape.raw"
    link.symlink_to(secret)
    node, disk = node_for(api, dirs, {"image_source": f"file://{link}",
                                      "image_checksum": sha256(secret.read_bytes())})
    os.utime(secret, (0, 0))
    result = deploy(api, node)
    assert result["provision_state"] == "deploy failed"
    assert "Security:" in result["last_error"] and "file_url_allowed_paths" in result["last_error"]
    assert secret.stat().st_atime == 0  # never opened for reading
    assert not disk.exists()  # refused before the agent was even booted


def test_system_paths_are_refused_at_the_api(api: httpx.Client,
                                             dirs: dict[str, pathlib.Path]) -> None:
    node, _disk = node_for(api, dirs, {"image_source": "file:///etc/shadow",
                                       "image_checksum": "0" * 64})
    response = api.put(f"/v1/nodes/{node}/states/provision", json={"target": "active"})
    assert response.status_code == 400
    assert "/etc" in fault(response)
    unknown = api.patch(f"/v1/nodes/{node}", json=[
        {"op": "replace", "path": "/instance_info/image_source", "value": "ftp://x/y.img"}])
    assert unknown.status_code == 200
    refused = api.put(f"/v1/nodes/{node}/states/provision", json={"target": "active"})
    assert refused.status_code == 400
    assert "'ftp'" in fault(refused)


@pytest.mark.parametrize(("reference", "root"), [
    ("file:////proc/self/environ", "/proc"), ("file://localhost//proc/1/environ", "/proc"),
    ("file:///sys/kernel/notes", "/sys"), ("file:///dev/sda", "/dev"),
    ("file:///var/../proc/self/mem", "/proc")])
def test_special_filesystems_are_refused_at_the_api(api: httpx.Client,
                                                    dirs: dict[str, pathlib.Path],
                                                    reference: str, root: str) -> None:
    node, disk = node_for(api, dirs, {"image_source": reference,
                                      "image_checksum": "0" * 64})
    response = api.put(f"/v1/nodes/{node}/states/provision", json={"target": "active"})
    assert response.status_code == 400
    message = fault(response)
    assert ": instance_info image_source /" in message, message
    assert f"is under {root}, which file:// image sources may never use" in message
    assert api.get(f"/v1/nodes/{node}").json()["provision_state"] == "available"
    assert not disk.exists()


def test_instance_info_messages_name_the_field_once(api: httpx.Client,
                                                    dirs: dict[str, pathlib.Path]) -> None:
    node, _disk = node_for(api, dirs, {"image_source": "http://127.0.0.1:9/disk.img",
                                       "image_checksum": "not-a-digest"})
    response = api.put(f"/v1/nodes/{node}/states/provision", json={"target": "active"})
    assert response.status_code == 400
    message = fault(response)
    assert ": instance_info image_checksum" in message, message
    assert message.count("instance_info") == 1, message


@pytest.mark.parametrize("mode", ["direct", "http"])
def test_swift_objects_deploy_by_temp_url_or_through_the_cache(
        api: httpx.Client, dirs: dict[str, pathlib.Path], swift: SwiftServer,
        mode: str) -> None:
    data = os.urandom(3 * MIB)
    name = f"{uuid.uuid4()}.raw"
    connection = swift.connection()
    connection.put_container("images")
    connection.put_object("images", name, data)
    connection.close()
    node, disk = node_for(api, dirs, {"image_source": f"swift://images/{name}",
                                      "image_os_hash_algo": "sha256",
                                      "image_os_hash_value": sha256(data),
                                      "image_download_source": mode})
    result = deploy(api, node)
    assert result["provision_state"] == "active", result["last_error"]
    assert disk.read_bytes()[:len(data)] == data
    agent_log = (dirs["base"] / "ingot" / "state" / "local-vm" / f"{node}.log").read_text()
    if mode == "direct":
        assert "temp_url_sig" in swift.proxy_log()  # the agent went straight to Swift
    assert "temp_url_sig=" not in agent_log.replace("temp_url_sig=******", "")


def test_http_image_through_the_conductor_cache(api: httpx.Client,
                                                dirs: dict[str, pathlib.Path],
                                                origin: Origin) -> None:
    data = os.urandom(3 * MIB)
    url = origin.add(f"/{secrets.token_hex(4)}.raw", data)
    info = {"image_source": url, "image_os_hash_algo": "sha256",
            "image_os_hash_value": sha256(data), "image_download_source": "http"}
    for _ in range(2):
        node, disk = node_for(api, dirs, info)
        result = deploy(api, node)
        assert result["provision_state"] == "active", result["last_error"]
        assert disk.read_bytes()[:len(data)] == data
    path = url.removeprefix(origin.url)
    assert origin.bytes_served(path) == len(data)  # fetched once, then from the cache


def test_unknown_download_source_is_a_400(api: httpx.Client, dirs: dict[str, pathlib.Path],
                                          origin: Origin) -> None:
    node, _disk = node_for(api, dirs, {"image_source": origin.url + "/x.raw",
                                       "image_checksum": "a" * 64,
                                       "image_download_source": "carrier-pigeon"})
    response = api.put(f"/v1/nodes/{node}/states/provision", json={"target": "active"})
    assert response.status_code == 400
    assert "image_download_source" in fault(response)


def test_ironic_local_download_source_is_served_by_the_conductor(
        dirs: dict[str, pathlib.Path], origin: Origin) -> None:
    """[agent] image_download_source = local (Ironic's value): the conductor caches the
    image and serves it from its own HTTP server, as Ironic does; validate says so."""
    server = IngotServer(dirs["base"] / "ingot-local", options={
        "local_vm": {"disk_paths": dirs["vms"], "agent_heartbeat_interval": 0.5},
        "agent": {"image_download_source": "local"},
    }).start()
    try:
        data = os.urandom(2 * MIB)
        url = origin.add(f"/{secrets.token_hex(4)}.raw", data)
        info = {"image_source": url, "image_os_hash_algo": "sha256",
                "image_os_hash_value": sha256(data)}
        with server.client() as api:
            for _ in range(2):
                node, disk = node_for(api, dirs, info)
                validated = api.get(f"/v1/nodes/{node}/validate")
                assert validated.status_code == 200, validated.text
                assert validated.json()["deploy"] == {"result": True}
                result = deploy(api, node)
                assert result["provision_state"] == "active", result["last_error"]
                assert disk.read_bytes()[:len(data)] == data
        assert origin.bytes_served(url.removeprefix(origin.url)) == len(data)
        assert "Traceback" not in server.log()
    finally:
        server.stop()
