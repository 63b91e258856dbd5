"""iPXE boot: power-on-to-callback time of a real iPXE VM, and config rendering at scale.

    python bench/ipxe_boot.py [--runs N] [--nodes 1000] [--no-qemu] [--no-uefi] [--dir D]

1. QEMU (TCG, no KVM) with Debian's iPXE ROM boots from an HTTP root written by
   IpxeBoot: boot.ipxe -> the node's config -> kernel + initramfs (a Debian kernel and a
   busybox initramfs, built once under ~/.cache/ingot-tests) -> /init POSTs
   /proc/cmdline back. Times are from QEMU's start, per step, as seen by the server.
   BIOS, and UEFI (OVMF) when installed. Each run is bounded and QEMU killed by PID.
2. Rendering N deploy configs (kernel parameters + template), then writing them into an
   HTTP root with two MAC links each, with temp URLs and with hard-linked cached files,
   and cleaning them all up.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from ingot.boot.ipxe import IpxeBoot, NodeBoot
from ingot.boot.kernel_params import node_kernel_params
from ingot.boot.render import render_deploy_config
from ingot.boot.settings import PxeSettings
from ingot.boot.sources import BootUrl, CachedFile
from tests.servers.bootfiles import boot_files
from tests.servers.httproot import HttpRootServer
from tests.servers.qemu import Firmware, NetbootVm, VmSpec, uefi_available

API_URL = "http://10.0.2.2:6385"
SIG = "5d41402abc4b2a76b9719d911017c592ab6fe1c0c3e7a2b4d5f60718293a4b5c"


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def settings(root: pathlib.Path, http_url: str) -> PxeSettings:
    return PxeSettings(
        http_root=root, http_url=http_url, config_subdir="pxelinux.cfg", use_swift=True,
        kernel_append_params="nofb vga=normal", ipxe_timeout=60, download_attempts=3,
        boot_script_template=None, deploy_template=None, local_boot_template=None,
        fallback_script=None, file_mode=0o644, dir_mode=0o755, boot_retry_timeout=None,
        deploy_callback_timeout=1800)


def boot_once(firmware: Firmware, run: int, workdir: pathlib.Path) -> dict[str, float]:
    files = boot_files()
    root = workdir / f"httpboot-{firmware}-{run}"
    root.mkdir()
    node_uuid, mac = str(uuid.uuid4()), f"52:54:00:00:10:{run:02x}"
    with HttpRootServer(root) as server:
        boot = IpxeBoot(settings(root, server.guest_url))
        boot.prepare_deploy(
            NodeBoot(uuid=node_uuid, pxe_macs=(mac,), boot_mode=firmware,
                     driver_info={"kernel_append_params": "%default% console=ttyS0"}),
            kernel=CachedFile(files.kernel), ramdisk=CachedFile(files.initramfs),
            ramdisk_params={"ipa-api-url": API_URL,
                            "ingot_callback": server.callback_url(node_uuid)})
        vm = NetbootVm(VmSpec(bootfile_url=f"{server.guest_url}/boot.ipxe", mac=mac,
                              firmware=firmware), workdir / f"vm-{firmware}-{run}")
        with vm:
            vm.wait(lambda: bool(server.callbacks.get(node_uuid)), 180,
                    f"{firmware} boot {run}")
        first: dict[str, float] = {}
        for hit in server.hits:
            first.setdefault(hit.path, hit.elapsed)
        # Hit times count from the server's start; shift them to QEMU's start.
        start = vm.started_at - server.started_at
        return {
            "boot.ipxe": first["/boot.ipxe"] - start,
            "config": first[f"/pxelinux.cfg/{mac.replace(':', '-')}"] - start,
            "kernel": first[f"/{node_uuid}/deploy_kernel"] - start,
            "initrd": first[f"/{node_uuid}/deploy_ramdisk"] - start,
            "callback": first[f"/callback/{node_uuid}"] - start,
        }


def bench_boot(firmware: Firmware, runs: int, workdir: pathlib.Path) -> None:
    results = []
    for run in range(runs):
        progress(f"[{firmware}] run {run + 1}/{runs}: starting QEMU...")
        times = boot_once(firmware, run, workdir)
        progress(f"[{firmware}] run {run + 1}/{runs}: callback after "
                 f"{times['callback']:.1f} s")
        results.append(times)
    print(f"\n{firmware.upper()} power-on (QEMU start) to agent callback, {runs} run(s), "
          f"TCG on {os.cpu_count()} cores:")
    for step in ("boot.ipxe", "config", "kernel", "initrd", "callback"):
        values = [r[step] for r in results]
        spread = f" (min {min(values):.1f}, max {max(values):.1f})" if runs > 1 else ""
        print(f"  {step:>9} requested at {statistics.median(values):5.1f} s{spread}")


def timed(label: str, count: int, action: Callable[[int], object]) -> float:
    start = time.perf_counter()
    step = max(1, count // 4)
    for i in range(count):
        action(i)
        if (i + 1) % step == 0:
            progress(f"  {label}: {i + 1}/{count}")
    return time.perf_counter() - start


def bench_render(count: int, workdir: pathlib.Path) -> None:
    nodes = [NodeBoot(uuid=str(uuid.UUID(int=i + 1, version=4)),
                      pxe_macs=(f"52:54:01:{i >> 8 & 0xff:02x}:{i & 0xff:02x}:01",
                                f"52:54:01:{i >> 8 & 0xff:02x}:{i & 0xff:02x}:02"),
                      driver_info={"kernel_append_params": "%default% console=ttyS0"})
             for i in range(count)]
    expires = int(time.time()) + 7200
    kernel = BootUrl(f"http://192.0.2.20:8080/v1/AUTH_t/glance/k?temp_url_sig={SIG}"
                     f"&temp_url_expires={expires}", expires)
    ramdisk = BootUrl(f"http://192.0.2.20:8080/v1/AUTH_t/glance/r?temp_url_sig={SIG}"
                      f"&temp_url_expires={expires}", expires)
    params = {"ipa-api-url": API_URL}

    def render(i: int) -> object:
        node = nodes[i]
        line = node_kernel_params(ipa_api_url=API_URL, instance_info=node.instance_info,
                                  driver_info=node.driver_info,
                                  default_append="nofb vga=normal")
        return render_deploy_config(kernel, ramdisk, line, node_uuid=node.uuid)

    render(0)  # warm-up: template compilation
    progress(f"rendering {count} deploy configs...")
    rendered = timed("render", count, render)

    root = workdir / "httpboot-render"
    boot = IpxeBoot(settings(root, "http://192.0.2.10:8080"))
    progress(f"writing {count} configs with temp URLs and 2 MAC links each...")
    with_urls = timed("write (temp URLs)", count, lambda i: boot.prepare_deploy(
        nodes[i], kernel=kernel, ramdisk=ramdisk, ramdisk_params=params))
    cache = workdir / "cache"
    cache.mkdir()
    (cache / "kernel").write_bytes(b"k" * 4096)
    (cache / "ramdisk").write_bytes(b"r" * 4096)
    progress(f"writing {count} configs with hard-linked cached files...")
    with_files = timed("write (cached files)", count, lambda i: boot.prepare_deploy(
        nodes[i], kernel=CachedFile(cache / "kernel"), ramdisk=CachedFile(cache / "ramdisk"),
        ramdisk_params=params))
    progress(f"cleaning up {count} nodes...")
    cleaned = timed("clean_up", count, lambda i: boot.clean_up(nodes[i].uuid,
                                                                 nodes[i].pxe_macs))
    print(f"\n{count} node configs, HTTP root in {workdir}:")
    print(f"  render (kernel params + template):        {rendered:6.2f} s "
          f"({rendered / count * 1e6:6.0f} us/node)")
    print(f"  render + write config + 2 MAC links:      {with_urls:6.2f} s "
          f"({with_urls / count * 1e6:6.0f} us/node)")
    print(f"  ... + hard-link kernel and ramdisk:       {with_files:6.2f} s "
          f"({with_files / count * 1e6:6.0f} us/node)")
    print(f"  clean_up (links, files, node dir):        {cleaned:6.2f} s "
          f"({cleaned / count * 1e6:6.0f} us/node)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="QEMU boots per firmware")
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--no-qemu", action="store_true")
    parser.add_argument("--no-uefi", action="store_true")
    parser.add_argument("--dir", default=None,
                        help="where the HTTP roots go (e.g. /dev/shm to leave the disk out)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ingot-bench-ipxe-", dir=args.dir) as scratch:
        workdir = pathlib.Path(scratch)
        bench_render(args.nodes, workdir)
        if not args.no_qemu:
            progress("building or reusing the test kernel and initramfs...")
            boot_files()
            bench_boot("bios", args.runs, workdir)
            if args.no_uefi:
                pass
            elif uefi_available():
                bench_boot("uefi", args.runs, workdir)
            else:
                print("\nUEFI: skipped, OVMF is not installed (Debian package ovmf)")


if __name__ == "__main__":
    main()
