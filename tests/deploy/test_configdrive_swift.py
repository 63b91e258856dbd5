"""Config drives carried to the agent through a real Swift, with a TTL, then deleted."""

from __future__ import annotations

import json
import os
import pathlib
import re
import time
from collections.abc import Iterator

import pytest
from swiftclient import exceptions as swift_exc

from tests.configdrive.isofiles import read_file
from tests.deploy.nodes import provision, sha256, vm_node, wait_for
from tests.deploy.test_configdrive import config_drive_on, disk_image
from tests.servers.ingot import IngotServer
from tests.servers.origin import Fault, Origin
from tests.servers.swift import SwiftServer

CONTAINER = "ironic_configdrive_container"


@pytest.fixture(scope="module")
def swift_ingot(tmp_path_factory: pytest.TempPathFactory, swift: SwiftServer,
                account_key: str) -> Iterator[IngotServer]:
    workdir = tmp_path_factory.mktemp("cd-swift")
    (workdir / "vms").mkdir()
    server = IngotServer(workdir / "ingot", options={
        "local_vm": {"disk_paths": workdir / "vms", "agent_heartbeat_interval": 0.5},
        "swift": swift.swift_options(),
        "deploy": {"configdrive_use_object_store": True},
    }).start()
    yield server
    server.stop()


def test_config_drive_goes_through_swift_and_is_deleted(
        swift_ingot: IngotServer, swift: SwiftServer, origin: Origin,
        tmp_path: pathlib.Path) -> None:
    data = disk_image(tmp_path / "disk.raw", "gpt")
    # Slow enough to look at Swift while the agent still writes the image.
    url = origin.add("/swift-cd.raw", data, Fault(delay=0.02))
    workdir = swift_ingot.workdir.parent
    with swift_ingot.client() as api:
        uuid, disk = vm_node(api, workdir, url, sha256(data))
        drive = {"meta_data": {"hostname": "via-swift"}, "user_data": "secret=42\n"}
        assert api.put(f"/v1/nodes/{uuid}/states/provision",
                       json={"target": "active", "configdrive": drive}).status_code == 202
        connection = swift.connection()
        headers = None
        deadline = time.monotonic() + 30
        while headers is None:
            assert time.monotonic() < deadline, "the config drive never reached Swift"
            try:
                headers = connection.head_object(CONTAINER, f"configdrive-{uuid}")
            except swift_exc.ClientException:
                time.sleep(0.05)
        assert int(headers["x-delete-at"]) > time.time()  # stored with a TTL
        node = wait_for(api, uuid, ("active", "deploy failed"))
        assert node["provision_state"] == "active", node["last_error"]
        with pytest.raises(swift_exc.ClientException) as gone:
            connection.head_object(CONTAINER, f"configdrive-{uuid}")
        assert gone.value.http_status == 404
        connection.close()
    iso = config_drive_on(disk)
    assert json.loads(read_file(iso, "/openstack/latest/meta_data.json"))["hostname"] == \
        "via-swift"
    assert read_file(iso, "/openstack/latest/user_data") == b"secret=42\n"
    # The agent fetched it with a temp URL; the signature never reached a log.
    agent_log = (swift_ingot.workdir / "state" / "local-vm" / f"{uuid}.log").read_text()
    for log in (agent_log, swift_ingot.log()):
        assert "temp_url_sig=" not in log.replace("temp_url_sig=******", "")
        assert "secret=42" not in log
    assert os.path.getsize(disk) > len(data)

    # A rebuild without a new drive uploads the stored one again (Ironic hands the agent
    # the first, by then expired, URL) and removes it again after.
    with swift_ingot.client() as api:
        node = provision(api, uuid, "rebuild", ("active", "deploy failed"))
        assert node["provision_state"] == "active", node["last_error"]
    uploads = {match.group(1) for line in swift.proxy_log().splitlines()
               if f"configdrive-{uuid}" in line and " PUT " in line
               and (match := re.search(r"x-delete-at:(\d+)", line))}
    assert len(uploads) == 2  # two uploads, each with its own expiry
    connection = swift.connection()
    with pytest.raises(swift_exc.ClientException):
        connection.head_object(CONTAINER, f"configdrive-{uuid}")
    connection.close()
    iso = config_drive_on(disk)
    assert read_file(iso, "/openstack/latest/user_data") == b"secret=42\n"
