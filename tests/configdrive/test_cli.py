"""`ingot configdrive build`: the string a client puts in its deploy request."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

from ingot.cli.main import main
from ingot.configdrive.build import decode
from ingot.configdrive.check import ConfigDriveImage, check
from tests.configdrive import isofiles

INGOT = os.path.join(os.path.dirname(sys.executable), "ingot")
META = {"hostname": "web-1", "public_keys": {"default": "ssh-ed25519 AAAA user"}}
NETWORK = {"links": [{"id": "eth0", "type": "phy", "ethernet_mac_address": "52:54:00:aa:bb:cc",
                      "mtu": 1500}],
           "networks": [{"id": "n0", "link": "eth0", "type": "ipv4_dhcp"}], "services": []}
VENDOR = {"cloud-init": "#cloud-config\npackages: [htop]\n"}
USER_DATA = b"#cloud-config\nusers:\n  - name: ops\n"


@pytest.fixture
def inputs(tmp_path: pathlib.Path) -> dict[str, pathlib.Path]:
    files = {"meta": tmp_path / "meta.json", "network": tmp_path / "network.json",
             "vendor": tmp_path / "vendor.json", "user": tmp_path / "user_data"}
    files["meta"].write_text(json.dumps(META))
    files["network"].write_text(json.dumps(NETWORK))
    files["vendor"].write_text(json.dumps(VENDOR))
    files["user"].write_bytes(USER_DATA)
    return files


def test_build_prints_a_drive_the_api_accepts(inputs: dict[str, pathlib.Path]) -> None:
    result = subprocess.run(
        [INGOT, "configdrive", "build", "--meta-data", str(inputs["meta"]),
         "--user-data", str(inputs["user"]), "--network-data", str(inputs["network"]),
         "--vendor-data", str(inputs["vendor"]), "--node-uuid", "node-uuid-1",
         "--node-name", "node-1"], capture_output=True, text=True, check=True, timeout=60)
    printed = result.stdout.strip()
    assert "\n" not in printed
    checked = check(printed)
    assert isinstance(checked, ConfigDriveImage)
    assert checked.label == "config-2"
    iso = decode(printed)
    for version in ("latest", "2012-08-10"):
        directory = f"/openstack/{version}"
        meta = json.loads(isofiles.read_file(iso, f"{directory}/meta_data.json"))
        assert meta == {**META, "uuid": "node-uuid-1", "name": "node-1"}
        assert isofiles.read_file(iso, f"{directory}/user_data") == USER_DATA
        assert json.loads(isofiles.read_file(iso, f"{directory}/network_data.json")) == NETWORK
        assert json.loads(isofiles.read_file(iso, f"{directory}/vendor_data2.json")) == VENDOR


def test_uuid_from_the_meta_data_file(inputs: dict[str, pathlib.Path],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    inputs["meta"].write_text(json.dumps({**META, "uuid": "from-file"}))
    assert main(["configdrive", "build", "--meta-data", str(inputs["meta"])]) == 0
    iso = decode(capsys.readouterr().out.strip())
    meta = json.loads(isofiles.read_file(iso, "/openstack/latest/meta_data.json"))
    assert meta == {**META, "uuid": "from-file"}
    assert isofiles.names(iso, "/openstack/latest", "rr") == {"meta_data.json"}


@pytest.mark.parametrize(("change", "message"), [
    ({}, "the meta data has no uuid (cloud-init needs one as its instance id); give "
         "--node-uuid"),
    ({"meta": "[1, 2]"}, "must hold a JSON object"),
    ({"meta": "{not json"}, "is not JSON"),
])
def test_bad_input(inputs: dict[str, pathlib.Path], capsys: pytest.CaptureFixture[str],
                   change: dict[str, str], message: str) -> None:
    for name, text in change.items():
        inputs[name].write_text(text)
    assert main(["configdrive", "build", "--meta-data", str(inputs["meta"])]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err


def test_missing_file(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.json"
    assert main(["configdrive", "build", "--meta-data", str(missing)]) == 1
    assert f"--meta-data: No such file or directory: {missing}" in capsys.readouterr().err


def test_mistyped_option_is_not_ignored(inputs: dict[str, pathlib.Path],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["configdrive", "build", "--meta-data", str(inputs["meta"]),
                 "--node-uuid", "u", "--user-dta", str(inputs["user"])]) == 2
    assert "unknown arguments: --user-dta" in capsys.readouterr().err
