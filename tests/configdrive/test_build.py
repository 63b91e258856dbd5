"""JSON -> ISO with pycdlib, read back the way cloud-init and cloudbase-init see it."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pycdlib.headervd
import pytest

from ingot.configdrive.build import build_iso, decode, encode
from ingot.configdrive.errors import ConfigDriveTooLarge, InvalidJSONDrive
from tests.configdrive import isofiles
from tests.configdrive.conftest import NODE_UUID, Drive

VERSIONS = ("latest", "2012-08-10")


def build(**overrides: Any) -> bytes:
    arguments: dict[str, Any] = {
        "meta_data": {"hostname": "h"}, "user_data": None, "network_data": None,
        "vendor_data": None, "node_uuid": NODE_UUID, "node_name": "node-one"}
    arguments.update(overrides)
    return build_iso(**arguments)


def test_files_in_both_directories_with_every_name_space(drive: Drive) -> None:
    expected = {"meta_data.json", "network_data.json", "user_data"}
    for version in VERSIONS:
        directory = f"/openstack/{version}"
        assert isofiles.names(drive.iso, directory, "rr") == expected
        assert isofiles.names(drive.iso, directory, "joliet") == expected
        assert isofiles.names(drive.iso, directory, "iso") == {f"{n};1" for n in expected}
        for namespace in ("rr", "joliet", "iso"):
            assert isofiles.read_file(drive.iso, f"{directory}/meta_data.json",
                                      namespace) == drive.meta_data_json
            assert isofiles.read_file(drive.iso, f"{directory}/user_data",
                                      namespace) == drive.user_data
    assert isofiles.names(drive.iso, "/openstack", "rr") == set(VERSIONS)
    assert isofiles.label(drive.iso) == "config-2"


def test_meta_data_defaults_from_node_without_touching_callers_dict() -> None:
    meta = {"hostname": "h", "public_keys": {"k": "v"}}
    iso = build(meta_data=meta)
    assert meta == {"hostname": "h", "public_keys": {"k": "v"}}
    written = isofiles.read_file(iso, "/openstack/2012-08-10/meta_data.json")
    assert written == json.dumps({"hostname": "h", "public_keys": {"k": "v"},
                                  "uuid": NODE_UUID, "name": "node-one"}).encode()


def test_meta_data_keeps_its_own_uuid_and_name() -> None:
    iso = build(meta_data={"uuid": "instance-uuid", "name": "instance"})
    written = json.loads(isofiles.read_file(iso, "/openstack/latest/meta_data.json"))
    assert written == {"uuid": "instance-uuid", "name": "instance"}


def test_meta_data_none_and_no_node_name() -> None:
    iso = build(meta_data=None, node_name=None)
    written = json.loads(isofiles.read_file(iso, "/openstack/latest/meta_data.json"))
    assert written == {"uuid": NODE_UUID}


@pytest.mark.parametrize(("user_data", "expected"), [
    ({"a": [1, 2]}, b'{"a": [1, 2]}'),
    (["x", 1], b'["x", 1]'),
    ("#cloud-config\nhostname: h\u00e9\n", "#cloud-config\nhostname: h\u00e9\n".encode()),
    (b"\x00\xff binary", b"\x00\xff binary"),
])
def test_user_data_encodings(user_data: object, expected: bytes) -> None:
    iso = build(user_data=user_data)
    for version in VERSIONS:
        assert isofiles.read_file(iso, f"/openstack/{version}/user_data") == expected


@pytest.mark.parametrize("empty", [None, "", b""])
def test_no_user_data_file_when_empty(empty: object) -> None:
    iso = build(user_data=empty)
    assert isofiles.names(iso, "/openstack/latest", "rr") == {"meta_data.json"}


def test_network_and_vendor_data_files() -> None:
    network = {"links": [{"id": "eth0", "type": "phy", "ethernet_mac_address": "52:54:00:1:2:3",
                          "mtu": 1500}], "networks": [], "services": []}
    vendor = {"cloud-init": "#cloud-config\npackages: [htop]\n"}
    iso = build(network_data=network, vendor_data=vendor)
    for version in VERSIONS:
        directory = f"/openstack/{version}"
        # vendor_data2.json: what openstacksdk writes and cloud-init reads (newton+).
        assert isofiles.names(iso, directory, "rr") == {
            "meta_data.json", "network_data.json", "vendor_data2.json"}
        assert json.loads(isofiles.read_file(iso, f"{directory}/network_data.json")) == network
        assert json.loads(isofiles.read_file(iso, f"{directory}/vendor_data2.json")) == vendor


def test_second_directory_shares_the_data() -> None:
    user_data = os.urandom(1024 * 1024)
    iso = build(user_data=user_data)
    # Hard links: one copy of the MiB, not one per version directory.
    assert len(iso) < 1.2 * len(user_data)
    assert isofiles.read_file(iso, "/openstack/2012-08-10/user_data") == user_data


@pytest.fixture
def timezone() -> Iterator[None]:
    saved = os.environ.get("TZ")
    yield
    if saved is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = saved
    time.tzset()


@pytest.mark.usefixtures("timezone")
def test_same_input_same_bytes_whatever_the_time_zone() -> None:
    os.environ["TZ"] = "UTC"
    time.tzset()
    first = build(user_data="#cloud-config\n", network_data={"links": []})
    os.environ["TZ"] = "Asia/Kolkata"
    time.tzset()
    second = build(user_data="#cloud-config\n", network_data={"links": []})
    assert first == second
    assert encode(first) == encode(second)
    # Creation date of the primary volume descriptor (Ecma-119 8.4.26): fixed, UTC.
    assert first[32768 + 813:32768 + 830] == b"2012081000000000\x00"
    # Outside a build, pycdlib's clock is the real one again.
    assert pycdlib.headervd.time is time  # type: ignore[attr-defined]


def test_encode_decode_round_trip(drive: Drive) -> None:
    assert decode(drive.encoded) == drive.iso
    assert decode(drive.encoded.encode()) == drive.iso


def test_too_large_for_a_partition_refused() -> None:
    with pytest.raises(ConfigDriveTooLarge, match="64 MiB") as raised:
        build(user_data=bytes(64 * 1024 * 1024))
    assert raised.value.status == 413


@pytest.mark.parametrize(("overrides", "message"), [
    ({"meta_data": ["not", "an", "object"]}, "meta_data must be an object"),
    ({"network_data": "links"}, "network_data must be an object"),
    ({"vendor_data": [1]}, "vendor_data must be an object"),
    ({"user_data": 42}, "user_data must be an object, an array or a string"),
    ({"meta_data": {"x": {1, 2}}}, "cannot be written as JSON"),
])
def test_wrong_types_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidJSONDrive, match=message) as raised:
        build(**overrides)
    assert raised.value.status == 400
    assert "configdrive" in raised.value.message
