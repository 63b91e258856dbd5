"""`ingot demo --qemu` (the README's `tools/run --qemu`), run as a newcomer runs it: it
starts its own `ingot serve` with the qemu-vm options, deploys ingot's OS image as
qcow2 onto a BIOS QEMU machine that network-boots ingot's ramdisk, and prints what the
deployed OS reports from its config drive on its first boot.

This is the suite's BIOS end-to-end deploy (tests/deploy/test_qemu_ramdisk.py has the
UEFI one): --keep leaves the node, the machine's disk and its serial log, to check what
the agent chose and wrote, and then to undeploy it with cleaning through an `ingot
serve` on the demo's state and options: the ramdisk boots again and wipes the disk.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import re
import shutil
import signal
import subprocess
import time

import httpx
import pytest

from ingot.demo import os_image
from ingot.demo.qemu import USER_DATA
from ingot.ramdisk import build
from tests.deploy.nodes import wait_for
from tests.servers.httproot import HttpRootServer
from tests.servers.ingot import INGOT, write_config
from tests.servers.process import Process, free_port, http_ready, wait_until
from tests.servers.qemu import os_disk, require_qemu

pytestmark = pytest.mark.slow
DEMO_TIMEOUT = 1500  # TCG on two busy cores; KVM where it works takes a minute
CLEAN_TIMEOUT = 600


def _stop_machines(state: pathlib.Path) -> None:
    for pid_file in (state / "local-vm").glob("*.pid"):
        with contextlib.suppress(ValueError, ProcessLookupError, PermissionError):
            os.killpg(int(pid_file.read_text()), signal.SIGTERM)


def test_demo_qemu_shows_the_deployed_os_report(tmp_path: pathlib.Path) -> None:
    require_qemu()
    image = os_disk()
    # Warm (or reuse) the cache first, so the demo's own build is the cached path and
    # the time limit is the deploy's.
    ramdisk = build.build(None, iso_append=None,
                          progress=lambda line: print(line, flush=True))
    state = tmp_path / "state"
    api_port = free_port()
    config = write_config(tmp_path / "demo.conf", {
        "DEFAULT": {"state_path": state}, "api": {"port": api_port},
        "deploy": {"http_port": free_port()},
        "conductor": {"check_provision_state_interval": 2}})
    try:
        result = subprocess.run([INGOT, "demo", "--qemu", "--keep", "--config-file",
                                 str(config)], capture_output=True, text=True,
                                timeout=DEMO_TIMEOUT)
    finally:
        _stop_machines(state)
    out = result.stdout
    print(out)
    assert result.returncode == 0, out + result.stderr[-3000:]
    # Each stage, in order: the cached ramdisk and OS, the accelerator, the deploy.
    stages = ["ramdisk: reusing the cached base layer", "ramdisk: done in",
              "os image: reusing the cached BIOS OS image",
              "Starting `ingot serve`", "Creating qemu-vm node", "deploy: os.qcow2 (qcow2)",
              "] powered on: QEMU's iPXE ROM fetches boot.ipxe",
              "] the agent in the ramdisk looked the node up and heartbeats",
              "] active: ", "] the machine booted from its disk"]
    positions = [out.find(stage) for stage in stages]
    assert -1 not in positions and positions == sorted(positions), out
    assert re.search(r"KVM works|falling back to TCG|No usable /dev/kvm", out), out
    found = re.search(r"Creating qemu-vm node (ingot-demo-qemu-[0-9a-f]+)", out)
    assert found is not None
    name = found.group(1)
    # The deployed OS's own report: what it read from the config-2 partition.
    report = out[out.index("] the machine booted from its disk"):]
    assert f"    {os_image.OS_MARKER} hostname={name}\n" in report, report
    assert f"    {os_image.OS_MARKER} user_data={USER_DATA}\n" in report, report
    assert re.search(rf"    {os_image.OS_MARKER} config-2 on /dev/vda\d\n", report), report
    assert "It read the hostname and user_data ingot wrote to config-2." in out
    assert f"Kept node {name}" in out

    # Kept: the agent took the machine's only disk (the default rule) and wrote the
    # OS converted from qcow2 to its boot code.
    serial = next((state / "local-vm").glob("*.serial")).read_text(errors="replace")
    assert "ingot-ramdisk: started" in serial
    assert "Root disk /dev/vda" in serial, serial[-3000:]
    disk = state / "vms" / f"{name}.img"
    with open(disk, "rb") as written:
        assert written.read(440) == image.read_bytes()[:440]
    assert "100.0%" in result.stderr  # the agent's progress, shown to the end

    # Undeploy with cleaning, on the demo's state and options (its ramdisk server is
    # gone: the same files come from another one).
    root = tmp_path / "ramdisk-origin"
    root.mkdir()
    shutil.copyfile(ramdisk.kernel, root / "vmlinuz")
    shutil.copyfile(ramdisk.initramfs, root / "initramfs")
    serve = Process([INGOT, "serve", "--config-file", str(config), "--config-file",
                     str(state / "demo" / "qemu.conf")], str(tmp_path / "serve.log"))
    try:
        wait_until(http_ready(f"http://127.0.0.1:{api_port}/"), 60, "ingot serve")
        with HttpRootServer(root) as origin, httpx.Client(
                base_url=f"http://127.0.0.1:{api_port}", timeout=30,
                headers={"X-OpenStack-Ironic-API-Version": "1.73"}) as api:
            patched = api.patch(f"/v1/nodes/{name}", json=[
                {"op": "replace", "path": "/automated_clean", "value": True},
                {"op": "replace", "path": "/driver_info/deploy_kernel",
                 "value": f"{origin.url}/vmlinuz"},
                {"op": "replace", "path": "/driver_info/deploy_ramdisk",
                 "value": f"{origin.url}/initramfs"}])
            assert patched.status_code == 200, patched.text
            started = time.monotonic()
            response = api.put(f"/v1/nodes/{name}/states/provision",
                               json={"target": "deleted"})
            assert response.status_code == 202, response.text
            shown = wait_for(api, name, ("available", "clean failed", "error"),
                             timeout=CLEAN_TIMEOUT)
            serial = next((state / "local-vm").glob("*.serial")).read_text(
                errors="replace")
            assert shown["provision_state"] == "available", \
                f"{shown['last_error']}\n{serial[-3000:]}"
            print(f"undeploy with cleaning: {time.monotonic() - started:.0f} s")
    finally:
        serve.stop()
        _stop_machines(state)
    with open(disk, "rb") as wiped:
        assert wiped.read(512) == bytes(512)  # no boot code, no partition table
