"""`ingot demo --qemu`: the whole story on a QEMU machine.

Builds (or reuses) the deploy ramdisk and a small bootable OS (os_image.py), starts
`ingot serve` with the options a qemu-vm node needs (QEMU's user network shows the
host's loopback to the machine as 10.0.2.2), and deploys the OS with a config drive:
the machine network-boots iPXE, then the ramdisk, whose agent looks the node up, writes
the image and the config drive onto the machine's disk and powers it off; ingot boots it
from that disk, and the OS prints the hostname and user_data it read from config-2 on
the serial console, which the demo shows.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import pathlib
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from typing import Any

import httpx

from ingot.demo import os_image
from ingot.demo.progress import Line, bar
from ingot.demo.run import HEADERS, image_server, provision, remove, say
from ingot.ramdisk import build
from ingot.ramdisk.debian import BuildError

QEMU = "qemu-system-x86_64"
KVM_DEVICE = "/dev/kvm"
# From inside a machine on QEMU's user network, the host's 127.0.0.1.
HOST_FROM_GUEST = "10.0.2.2"
USER_DATA = "hello from the ingot demo, via config-2"
DISK_MIB = 5 * 1024  # the agent's default root disk is the smallest of at least 4 GiB
DEPLOY_TIMEOUT = 900.0  # TCG on a busy host: minutes
REPORT_TIMEOUT = 300.0
KVM_PROBE_TIMEOUT = 60.0
DEBIAN_PACKAGES = ("qemu-system-x86", "ipxe-qemu", "qemu-utils", "mmdebstrap", "zstd",
                   "syslinux", "syslinux-common", "mtools", "dosfstools", "fdisk")


@dataclasses.dataclass(frozen=True)
class Prepared:
    ramdisk: build.Ramdisk
    disk: pathlib.Path  # the OS, a raw MBR disk
    accel: str  # kvm or tcg


def prepare() -> Prepared:
    """The ramdisk, the OS image and the accelerator, with progress."""
    if shutil.which(QEMU) is None:
        raise SystemExit(f"{QEMU} is not installed; `ingot demo --qemu` needs the Debian "
                         f"packages {' '.join(DEBIAN_PACKAGES)}")
    say("Building (or reusing) the deploy ramdisk: Debian's kernel and an initramfs "
        "running `ingot agent`")
    try:
        ramdisk = build.build(None, iso_append=None,
                              progress=lambda line: say(f"  ramdisk: {line}"))
        say("Building (or reusing) the OS to deploy: Debian's kernel, a busybox init that "
            "reads config-2, syslinux on an MBR disk")
        disk = os_image.os_image(progress=lambda line: say(f"  os image: {line}"))
    except BuildError as exc:
        raise SystemExit(f"ingot demo --qemu: {exc}") from None
    return Prepared(ramdisk, disk, accelerator(disk))


def accelerator(disk: pathlib.Path) -> str:
    """kvm when this host's KVM runs the OS (some nested hosts offer /dev/kvm, yet fail
    on real guests), else tcg; says which and why."""
    if not os.access(KVM_DEVICE, os.R_OK | os.W_OK):
        say(f"No usable {KVM_DEVICE}: QEMU emulates the CPU (TCG), so each boot takes a "
            f"minute or more")
        return "tcg"
    say(f"{KVM_DEVICE} is there: checking that KVM boots the OS")
    problem = _kvm_problem(disk)
    if problem is None:
        say("KVM works: the machine runs with hardware virtualisation")
        return "kvm"
    say(f"KVM cannot run it here ({problem}): falling back to TCG (software emulation), "
        f"so each boot takes a minute or more")
    return "tcg"


def _kvm_problem(disk: pathlib.Path) -> str | None:
    """None when the OS's init started under KVM, else what went wrong."""
    with tempfile.TemporaryDirectory(prefix="ingot-kvm-probe-") as scratch:
        serial = pathlib.Path(scratch) / "serial.log"
        errors = pathlib.Path(scratch) / "qemu.log"
        argv = [QEMU, "-machine", "pc,accel=kvm", "-m", "256", "-nographic",
                "-monitor", "none", "-no-reboot", "-serial", f"file:{serial}",
                "-drive", f"file={str(disk).replace(',', ',,')},format=raw,if=virtio,"
                          f"snapshot=on"]
        with open(errors, "wb") as log:
            process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + KVM_PROBE_TIMEOUT
            while time.monotonic() < deadline:
                if serial.exists() and os_image.BOOTED in serial.read_text(errors="replace"):
                    return None
                text = errors.read_text(errors="replace")
                if "KVM internal error" in text or "emulation failure" in text:
                    return "KVM internal error: emulation failure"
                if process.poll() is not None:
                    return (f"QEMU exited with {process.returncode}: "
                            f"{text.strip().splitlines()[-1:] or ''}")
                time.sleep(0.2)
            return f"the OS did not start within {KVM_PROBE_TIMEOUT:.0f} s"
        finally:
            process.kill()
            process.wait()


def config_file(path: pathlib.Path, api_port: int, http_port: int, accel: str) -> pathlib.Path:
    """What `ingot serve` needs for qemu-vm nodes, on top of the user's configuration."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# Written by `ingot demo --qemu`: the options a qemu-vm node needs.\n"
        "[DEFAULT]\nenabled_hardware_types = fake-hardware,local-vm,qemu-vm\n"
        # The machine fetches iPXE scripts, the ramdisk and the image from the HTTP root
        # and calls the API back, both through QEMU's user network.
        f"[deploy]\nhttp_url = http://{HOST_FROM_GUEST}:{http_port}\n"
        f"[conductor]\napi_url = http://{HOST_FROM_GUEST}:{api_port}\n"
        # The image server is on the host's loopback: the conductor caches the image and
        # serves it from its HTTP root, which the machine can reach.
        "[agent]\nimage_download_source = http\n"
        f"[local_vm]\nqemu_accel = {accel}\n")
    return path


def _sha256(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _serial(state_path: pathlib.Path, uuid: str) -> str:
    path = state_path / "local-vm" / f"{uuid}.serial"
    return path.read_text(errors="replace") if path.exists() else ""


def demo(endpoint: str, state_path: pathlib.Path, prepared: Prepared, started_service: bool,
         keep: bool = False) -> int:
    """Deploy the OS onto a new qemu-vm node, show its first boot's report; then remove
    the node and its disk file unless keep."""
    work = state_path / "demo" / f"qemu-{secrets.token_hex(3)}"
    work.mkdir(parents=True)
    vms = state_path / "vms"
    vms.mkdir(parents=True, exist_ok=True)
    name = f"ingot-demo-qemu-{secrets.token_hex(3)}"
    disk = vms / f"{name}.img"
    ramdisk = prepared.ramdisk
    for served, source in (("vmlinuz", ramdisk.kernel), ("initramfs", ramdisk.initramfs)):
        (work / served).symlink_to(source)
    image_name, image_format = _image(prepared.disk, work)
    uuid: str | None = None
    status = 1
    with image_server(work) as origin, httpx.Client(base_url=endpoint, headers=HEADERS,
                                                     timeout=30) as api:
        try:
            drivers = api.get("/v1/drivers").json()["drivers"]
            if not any(driver["name"] == "qemu-vm" for driver in drivers):
                raise SystemExit(
                    f"The ingot running at {endpoint} does not enable the qemu-vm hardware "
                    f"type; stop it, and `ingot demo --qemu` starts one with the options "
                    f"it needs")
            say(f"Creating qemu-vm node {name}: {DISK_MIB // 1024} GiB disk {disk}, "
                f"{prepared.accel.upper()}")
            created = api.post("/v1/nodes", json={
                "name": name, "driver": "qemu-vm", "deploy_interface": "direct",
                # No cleaning on provide: one boot of the ramdisk, for the deploy.
                "automated_clean": False,
                "driver_info": {
                    "vm_disk": str(disk), "vm_disk_size": DISK_MIB, "vm_memory": 1024,
                    "deploy_kernel": f"{origin}/vmlinuz",
                    "deploy_kernel_checksum": _sha256(ramdisk.kernel),
                    "deploy_ramdisk": f"{origin}/initramfs",
                    "deploy_ramdisk_checksum": _sha256(ramdisk.initramfs),
                    "kernel_append_params": "console=ttyS0"},
                "instance_info": {"image_source": f"{origin}/{image_name}",
                                  "image_os_hash_algo": "sha256",
                                  "image_os_hash_value": _sha256(work / image_name),
                                  "image_disk_format": image_format}})
            if created.status_code != 201:
                raise SystemExit(f"Creating the node failed: {created.text}")
            uuid = str(created.json()["uuid"])
            mac = "52:54:00:" + ":".join(f"{b:02x}" for b in os.urandom(3))
            api.post("/v1/ports", json={"node_uuid": uuid, "address": mac}
                     ).raise_for_status()
            line = Line()
            for target, wanted in (("manage", "manageable"), ("provide", "available")):
                say(f"{target}: the node goes to {wanted}")
                provision(api, uuid, target, wanted, line)
                line.end()
            say(f"deploy: {image_name} ({image_format}) with a config drive (hostname "
                f"{name}, user_data {USER_DATA!r})")
            started = time.monotonic()
            _deploy(api, uuid, name, line, started)
            report = _report(state_path, uuid)
            say(f"  [{time.monotonic() - started:5.0f} s] the machine booted from its disk; "
                f"its OS reports on the serial console:")
            for text in report:
                say(f"    {text}")
            expected = [f"{os_image.OS_MARKER} hostname={name}",
                        f"{os_image.OS_MARKER} user_data={USER_DATA}"]
            status = 0 if all(want in report for want in expected) else 1
            say("It read the hostname and user_data ingot wrote to config-2." if status == 0
                else "It did NOT report the hostname and user_data ingot sent.")
        finally:
            shutil.rmtree(work, ignore_errors=True)
            if uuid is not None and not keep:
                _remove(api, uuid, name, disk)
    if keep:
        where = f"OS_ENDPOINT={endpoint} OS_AUTH_TYPE=none baremetal node show {name}"
        say(f"\nKept node {name}, its disk {disk} and its serial log "
            f"{state_path / 'local-vm' / f'{uuid}.serial'}"
            + (" (the demo stops the service it started: run `ingot serve`"
               f" with {state_path / 'demo' / 'qemu.conf'} to look at it)" if started_service
               else "") + f":\n  {where}")
    return status


def _image(disk: pathlib.Path, work: pathlib.Path) -> tuple[str, str]:
    """The OS to send: qcow2 (the agent converts it with its qemu-img) when qemu-img is
    here, else the raw disk."""
    if shutil.which("qemu-img") is None:
        (work / "os.raw").symlink_to(disk)
        return "os.raw", "raw"
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(disk),
                    str(work / "os.qcow2")], check=True, timeout=120, capture_output=True)
    return "os.qcow2", "qcow2"


def _deploy(api: httpx.Client, uuid: str, name: str, line: Line, started: float
            ) -> dict[str, Any]:
    """Deploy and show each stage as it happens, with the seconds since started."""
    response = api.put(f"/v1/nodes/{uuid}/states/provision", json={
        "target": "active",
        "configdrive": {"meta_data": {"hostname": name}, "user_data": USER_DATA}})
    if response.status_code != 202:
        raise SystemExit(f"deploy was refused: {response.text}")
    stages: list[tuple[Callable[[dict[str, Any]], bool], str]] = [
        # Waiting for the agent's call-back: the deploy step has powered the machine on
        # (the power state may be recorded later).
        (lambda n: n["power_state"] == "power on" or n["provision_state"] == "wait call-back",
         "powered on: QEMU's iPXE ROM fetches boot.ipxe, then the ramdisk"),
        (lambda n: bool(n["driver_internal_info"].get("agent_url")),
         "the agent in the ramdisk looked the node up and heartbeats; it downloads, "
         "converts and writes the image, then the config drive"),
        (lambda n: n["provision_state"] == "active",
         "active: the agent flushed and powered off, ingot powered the machine on from "
         "its disk"),
    ]
    deadline = started + DEPLOY_TIMEOUT
    while time.monotonic() < deadline:
        node: dict[str, Any] = api.get(f"/v1/nodes/{uuid}").json()
        state = node["provision_state"]
        if state in ("deploy failed", "error"):
            line.end()
            raise SystemExit(f"Node {uuid} is in {state}: {node['last_error']}")
        while stages and stages[0][0](node):
            line.end()
            say(f"  [{time.monotonic() - started:5.0f} s] {stages.pop(0)[1]}")
        if not stages:
            return node
        progress = node["driver_internal_info"].get("agent_progress")
        if progress and progress.get("command_name") == "standby.prepare_image":
            line.show(bar(progress))
        elif line.tty:
            line.show(f"  [{time.monotonic() - started:5.0f} s] {state} ...")
        else:  # a line per change, not per second
            line.show(f"  {state} ...")
        time.sleep(1)
    line.end()
    raise SystemExit(f"Node {uuid} was not active within {DEPLOY_TIMEOUT:.0f} s")


def _report(state_path: pathlib.Path, uuid: str) -> list[str]:
    """The deployed OS's report lines from the machine's serial log."""
    deadline = time.monotonic() + REPORT_TIMEOUT
    done = f"{os_image.OS_MARKER} done"
    while done not in _serial(state_path, uuid):
        if time.monotonic() > deadline:
            raise SystemExit(f"The deployed OS did not report within {REPORT_TIMEOUT:.0f} s; "
                             f"its serial log: {state_path / 'local-vm' / f'{uuid}.serial'}")
        time.sleep(1)
    # The log holds the ramdisk's boot too: the report follows the OS's own start.
    booted = _serial(state_path, uuid).split(os_image.BOOTED)[-1]
    return [os_image.BOOTED] + [line.strip() for line in booted.splitlines()
                                if line.strip().startswith(os_image.OS_MARKER)]


def _remove(api: httpx.Client, uuid: str, name: str, disk: pathlib.Path) -> None:
    """As the plain demo's clean-up; a machine still running after a failure is
    powered off first."""
    with contextlib.suppress(httpx.HTTPError):
        deployed = api.get(f"/v1/nodes/{uuid}").json().get("provision_state") == "active"
        if not deployed:
            api.put(f"/v1/nodes/{uuid}/states/power", json={"target": "power off"})
        remove(api, uuid, name, disk, deployed)
