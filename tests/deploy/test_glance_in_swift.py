"""A Glance image counts as "in Swift" when Glance says so, or, as Ironic has it, when
the [glance] Swift options name its store; the log says which delivery and why."""

from __future__ import annotations

import os
import pathlib
import uuid
from collections.abc import Iterator

import pytest

from tests.deploy.nodes import deploy, sha256, vm_node
from tests.servers.glance import GlanceServer, GlanceUnavailable
from tests.servers.ingot import IngotServer
from tests.servers.process import unavailable
from tests.servers.swift import SwiftServer

MIB = 1 << 20


@pytest.fixture(scope="module")
def quiet_glance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GlanceServer]:
    """A Glance with its defaults: it shows no image locations."""
    try:
        server = GlanceServer(tmp_path_factory.mktemp("quiet-glance"),
                              show_locations=False).start()
    except GlanceUnavailable as exc:
        unavailable(f"OpenStack Glance cannot run here: {exc}")
    yield server
    server.stop()


def start_ingot(workdir: pathlib.Path, glance: GlanceServer, swift: SwiftServer,
                **glance_options: str) -> IngotServer:
    (workdir / "vms").mkdir(parents=True)
    return IngotServer(workdir / "ingot", options={
        "local_vm": {"disk_paths": workdir / "vms", "agent_heartbeat_interval": 0.5},
        "glance": {"auth_type": "none", "endpoint_override": glance.url, **glance_options},
        "swift": swift.swift_options(),
    }).start()


def stored_in_glance_and_swift(glance: GlanceServer, swift: SwiftServer, container: str,
                               data: bytes) -> str:
    """An image uploaded to Glance, its bytes where Glance's Swift store keeps them."""
    image = glance.upload(data, name="in-swift")
    connection = swift.connection()
    try:
        connection.put_container(container)
        connection.put_object(container, image.id, data)
    finally:
        connection.close()
    return image.id


def test_swift_container_option_makes_a_glance_image_go_by_temp_url(
        tmp_path: pathlib.Path, quiet_glance: GlanceServer, swift: SwiftServer,
        account_key: str) -> None:
    container = f"glance-{uuid.uuid4().hex[:8]}"
    data = os.urandom(3 * MIB)
    image_id = stored_in_glance_and_swift(quiet_glance, swift, container, data)
    assert "direct_url" not in quiet_glance.show(image_id)
    server = start_ingot(tmp_path, quiet_glance, swift, swift_container=container)
    try:
        with server.client() as api:
            node, disk = vm_node(api, tmp_path, image_id, sha256(data))
            result = deploy(api, node)
        assert result["provision_state"] == "active", result["last_error"]
        assert disk.read_bytes()[:len(data)] == data
        # The agent took the bytes from Swift: Glance never served them.
        assert quiet_glance.data_requests(image_id) == 0
        assert (f"Node {node}: the agent downloads image {image_id} by Swift temp URL "
                f"([glance] swift_container is set)") in server.log()
    finally:
        server.stop()


def test_without_swift_options_the_conductor_serves_it_and_says_why(
        tmp_path: pathlib.Path, quiet_glance: GlanceServer, swift: SwiftServer,
        account_key: str) -> None:
    data = os.urandom(2 * MIB)
    image = quiet_glance.upload(data, name="not-in-swift")
    server = start_ingot(tmp_path, quiet_glance, swift)
    try:
        with server.client() as api:
            node, disk = vm_node(api, tmp_path, image.id, sha256(data))
            result = deploy(api, node)
        assert result["provision_state"] == "active", result["last_error"]
        assert disk.read_bytes()[:len(data)] == data
        assert quiet_glance.data_requests(image.id) == 1
        assert (f"Node {node}: the conductor serves image {image.id} from its cache (Glance "
                f"shows no location (show_image_direct_url is off) and neither [glance] "
                f"swift_account nor swift_container is set)") in server.log()
    finally:
        server.stop()
