"""The standby and clean commands in-process: validation, IPA error shapes, config drive."""

from __future__ import annotations

import hashlib
import os
import pathlib
import shutil
import subprocess
from typing import Any

import pytest

from ingot.agent.commands import AgentIsBusy, CommandRunner, InvalidCommandParams
from ingot.agent.download import RetryPolicy, Timeouts
from ingot.agent.standby import DownloadSettings, Standby
from tests.servers.origin import Fault, Origin
from tests.servers.process import unavailable

MiB = 1 << 20
SETTINGS = DownloadSettings(retry=RetryPolicy(attempts=2, initial_delay=0.01),
                            timeouts=Timeouts(connect=5, read=10))
SBIN = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


@pytest.fixture
def target(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "disk.img"
    path.write_bytes(b"\x11" * (2 * MiB))
    return path


def runner_for(target: pathlib.Path, stopped: list[bool] | None = None) -> CommandRunner:
    """``stopped`` gets one entry per stop: whether the machine is to reboot."""
    runner = CommandRunner()
    calls = stopped if stopped is not None else []
    Standby(str(target), SETTINGS, calls.append).register(runner)
    return runner


def image_info(url: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"id": "img", "urls": [url], "disk_format": "raw", "stream_raw_images": True,
            "os_hash_algo": "sha256", "os_hash_value": hashlib.sha256(data).hexdigest(),
            **extra}


@pytest.mark.parametrize(("info", "message"), [
    ({"id": "x"}, "urls must be a non-empty list"),
    ({"id": "x", "urls": ["ftp://h/x"], "checksum": "a" * 64}, "http(s) URLs"),
    ({"urls": ["http://h/x"], "checksum": "a" * 64}, "missing a non-empty id"),
    ({"id": "x", "urls": ["http://h/x"]}, "checksum is not available"),
    ({"id": "x", "urls": ["http://h/x"], "checksum": "a" * 32}, "MD5"),
    ({"id": "x", "urls": ["http://h/x"], "checksum": "a" * 64,
      "proxies": {"http": "socks5://p:1"}}, "proxies.http"),
    ({"id": "x", "urls": ["http://h/x"], "checksum": "a" * 64, "proxies": {"http": "p:1"},
      "no_proxy": "good.example,bad entry"}, "no_proxy entry 'bad entry'"),
    ({"id": "x", "urls": ["http://h/x"], "checksum": "a" * 64, "image_type": "partition"},
     "image_info root_mb must be at least 1"),
    ({"id": "x", "urls": ["http://h/x"], "checksum": "a" * 64, "image_type": "partition",
      "root_mb": 1024, "ephemeral_format": "zfs"}, "ephemeral_format 'zfs'"),
])
def test_bad_prepare_image_requests_are_refused_up_front(
        target: pathlib.Path, info: dict[str, Any], message: str) -> None:
    runner = runner_for(target)
    with pytest.raises(InvalidCommandParams) as caught:
        runner.execute("standby.prepare_image", {"image_info": info})
    assert message in str(caught.value)
    assert caught.value.code == 400
    assert runner.list() == []


def test_download_failures_have_ipa_error_shapes(origin: Origin,
                                                 target: pathlib.Path) -> None:
    runner = runner_for(target)
    data = os.urandom(MiB)
    missing = runner.execute("standby.prepare_image", {
        "image_info": image_info(f"{origin.url}/missing.img", data)}).join(30)
    assert missing.command_status == "FAILED"
    assert missing.command_error is not None
    assert missing.command_error["type"] == "ImageDownloadError"
    assert missing.command_error["message"] == "Error downloading image"
    assert "HTTP 404" in missing.command_error["details"]

    url = origin.add("/img", data)
    wrong = runner.execute("standby.prepare_image", {
        "image_info": image_info(url, b"other")}).join(30)
    assert wrong.command_status == "FAILED"
    assert wrong.command_error is not None
    assert wrong.command_error["type"] == "ImageChecksumError"
    assert "Checksum mismatch" in wrong.command_error["details"]
    serialized = wrong.serialize()
    assert set(serialized) == {"id", "command_name", "command_params", "command_status",
                               "command_error", "command_result"}


def test_one_command_at_a_time(origin: Origin, target: pathlib.Path) -> None:
    data = os.urandom(2 * MiB)
    url = origin.add("/slow", data, Fault(delay=0.01))
    runner = runner_for(target)
    first = runner.execute("standby.prepare_image", {"image_info": image_info(url, data)})
    with pytest.raises(AgentIsBusy):
        runner.execute("standby.get_partition_uuids", {})
    assert first.join(30).command_status == "SUCCEEDED"
    assert target.read_bytes()[:len(data)] == data


def test_bad_config_drive_fails_before_touching_the_disk(
        origin: Origin, target: pathlib.Path) -> None:
    data = os.urandom(MiB)
    url = origin.add("/img", data)
    before = target.read_bytes()
    result = runner_for(target).execute("standby.prepare_image", {
        "image_info": image_info(url, data), "configdrive": "H4sIAAAAAAAA"}).join(30)
    assert result.command_status == "FAILED"
    assert result.command_error is not None
    assert "Invalid config drive" in result.command_error["details"]
    assert result.serialize()["command_params"]["configdrive"] == "******"
    assert origin.hits_for("/img") == []
    assert target.read_bytes() == before


def test_config_drive_is_written_after_the_image(origin: Origin,
                                                 tmp_path: pathlib.Path) -> None:
    from ingot.configdrive.build import build_iso, encode  # noqa: PLC0415 - optional module

    sfdisk = shutil.which("sfdisk", path=SBIN)
    if sfdisk is None:
        unavailable("sfdisk is not installed (Debian package fdisk)")
    assert sfdisk is not None
    image = tmp_path / "gpt.raw"
    with open(image, "wb") as f:
        f.truncate(16 * MiB)
    subprocess.run([sfdisk, "-q", "--label", "gpt", str(image)], input="2048,8192\n",
                   text=True, check=True, capture_output=True)
    data = image.read_bytes()
    drive = encode(build_iso(meta_data={"hostname": "n1"}, user_data="#cloud-config\n",
                             network_data=None, vendor_data=None, node_uuid="u-1",
                             node_name="n1"))
    target = tmp_path / "disk.img"
    result = runner_for(target).execute("standby.prepare_image", {
        "image_info": image_info(origin.add("/gpt.raw", data), data),
        "configdrive": drive}).join(60)
    assert result.command_status == "SUCCEEDED", result.command_error
    table = subprocess.run([sfdisk, "--json", str(target)], capture_output=True, text=True,
                           check=True).stdout
    assert table.count('"node"') == 2  # the image's partition and the config drive's


def test_power_off_stops_the_agent(target: pathlib.Path) -> None:
    stopped: list[bool] = []
    runner = runner_for(target, stopped)
    assert runner.execute("standby.power_off", {}).join(10).command_status == "SUCCEEDED"
    assert stopped == [False]


def test_run_image_stops_the_agent_for_a_reboot(target: pathlib.Path) -> None:
    stopped: list[bool] = []
    runner = runner_for(target, stopped)
    assert runner.execute("standby.run_image", {}).join(10).command_status == "SUCCEEDED"
    assert stopped == [True]
