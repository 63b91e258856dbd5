"""`ingot demo`, the README's main command, on its own state directory."""

from __future__ import annotations

import pathlib
import re
import subprocess

import pytest
from oslo_config import cfg

from ingot import conf as ingot_conf
from ingot.demo import image, qemu
from tests.servers.ingot import INGOT, IngotServer, write_config
from tests.servers.process import free_port


def test_generated_image_is_a_bootable_mbr_disk() -> None:
    data = image.build(4)
    assert data[510:512] == b"\x55\xaa"
    assert image.MESSAGE.rstrip(b"\0") in data[:446]
    assert image.partitions(data) == [{"number": 1, "bootable": True, "type": 0x83,
                                       "start": 2048, "sectors": 4 * 2048 - 2048}]
    assert image.partitions(b"\0" * 1024) == []
    assert image.iso_label(data[:64 * 1024]) is None


def test_demo_deploys_and_reports_the_disk(tmp_path: pathlib.Path) -> None:
    config = write_config(tmp_path / "demo.conf", {
        "DEFAULT": {"state_path": tmp_path / "state"}, "api": {"port": free_port()},
        "deploy": {"http_port": free_port()}})
    result = subprocess.run([INGOT, "demo", "--size", "16", "--config-file", str(config)],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is active after" in result.stdout
    assert "partition 1: type 0x83 (bootable), start sector 2048" in result.stdout
    assert "the first 16 MiB match the image" in result.stdout
    # The config drive it sent: a second partition, the ISO 9660 config-2.
    assert re.search(r"partition 2: type 0x83, start sector \d+, \d+ [KM]iB, ISO 9660 "
                     r"labelled config-2: the config drive", result.stdout), result.stdout
    assert "100.0%" in result.stderr  # the progress bar reached the end
    # It cleans up after itself: no node, no disk file, no image file.
    assert "Removing node ingot-demo-" in result.stdout
    assert list((tmp_path / "state" / "vms").glob("*")) == []
    assert list((tmp_path / "state" / "demo").glob("*.raw")) == []
    assert result.stdout.rstrip().endswith("Stopping the `ingot serve` the demo started")


def test_demo_on_a_running_service_keeps_it_running(tmp_path: pathlib.Path) -> None:
    server = IngotServer(tmp_path / "serve", options={
        "local_vm": {"disk_paths": tmp_path / "state" / "vms"}}).start()
    try:
        config = write_config(tmp_path / "demo.conf", {
            "DEFAULT": {"state_path": tmp_path / "state"}, "api": {"port": server.port},
            "deploy": {"http_port": free_port()}})
        result = subprocess.run([INGOT, "demo", "--size", "8", "--keep", "--config-file",
                                 str(config)], capture_output=True, text=True, timeout=180)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"Using the ingot service already running at {server.url}" in result.stdout
        assert "Stopping" not in result.stdout and "stops the service" not in result.stdout
        assert "Look at it with:" in result.stdout
        # --keep: the node and its disk stay, in the service that keeps running.
        with server.client() as api:
            names = [n["name"] for n in api.get("/v1/nodes").json()["nodes"]]
        assert len([n for n in names if n.startswith("ingot-demo-")]) == 1
        assert len(list((tmp_path / "state" / "vms").glob("ingot-demo-*.img"))) == 1
        assert server.process is not None and server.process.alive()
    finally:
        server.stop()


def test_qemu_demo_without_kvm_says_it_runs_tcg(tmp_path: pathlib.Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(qemu, "KVM_DEVICE", str(tmp_path / "kvm"))
    assert qemu.accelerator(tmp_path / "unused.img") == "tcg"
    assert f"No usable {tmp_path / 'kvm'}: QEMU emulates the CPU (TCG)" in \
        capsys.readouterr().out


def test_qemu_demo_serve_options(tmp_path: pathlib.Path) -> None:
    """What `ingot serve` gets on top of the user's configuration, read back by ingot's
    own option parser."""
    path = qemu.config_file(tmp_path / "qemu.conf", 16385, 16386, "kvm")
    conf = cfg.ConfigOpts()  # not the process's CONF: other tests read it
    for module in ingot_conf.modules():
        module.register(conf)
    conf(["--config-file", str(path)], default_config_files=[])
    assert "qemu-vm" in conf.enabled_hardware_types
    assert conf.deploy.http_url == "http://10.0.2.2:16386"
    assert conf.conductor.api_url == "http://10.0.2.2:16385"
    assert conf.agent.image_download_source == "http"
    assert conf.local_vm.qemu_accel == "kvm"
