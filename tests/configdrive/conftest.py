"""Config drives to test with, built by the code under test from known JSON."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

import pytest

from ingot.configdrive.build import build_iso, encode
from tests.configdrive import disks

NODE_UUID = "1be26c0b-03f2-4d2e-ae87-c02d7f33c123"


@dataclass(frozen=True)
class Drive:
    iso: bytes
    encoded: str
    meta_data_json: bytes  # exactly what openstack/*/meta_data.json must hold
    user_data: bytes


def make_drive(user_data_size: int = 200 * 1024, seed: int = 1,
               hostname: str = "node-1") -> Drive:
    user_data = random.Random(seed).randbytes(user_data_size)
    iso = build_iso(meta_data={"hostname": hostname, "public_keys": {"k": "ssh-ed25519 AAA"}},
                    user_data=user_data, network_data={"links": [], "networks": []},
                    vendor_data=None, node_uuid=NODE_UUID, node_name="node-one")
    meta = {"hostname": hostname, "public_keys": {"k": "ssh-ed25519 AAA"},
            "uuid": NODE_UUID, "name": "node-one"}
    return Drive(iso=iso, encoded=encode(iso), meta_data_json=json.dumps(meta).encode(),
                 user_data=user_data)


@pytest.fixture(scope="session")
def drive() -> Drive:
    return make_drive()


@pytest.fixture
def need_disk_tools() -> None:
    if disks.SFDISK is None or disks.BLKID is None:
        pytest.skip("sfdisk and blkid are needed (Debian packages fdisk and util-linux; "
                    "tools/test installs them)")
