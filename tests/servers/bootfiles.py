"""A real Debian kernel and a busybox initramfs that calls back, for network-boot tests.

Built once and cached under ~/.cache/ingot-tests/ (``INGOT_TEST_CACHE`` moves it):

* the kernel is the ``vmlinuz`` of the Debian package ``linux-image-amd64`` depends on,
  fetched with ``apt-get download`` and unpacked with ``dpkg -x``;
* its NIC drivers are modules, so the initramfs carries virtio_net and e1000 with their
  dependencies (ingot.ramdisk.kmod, as the deploy ramdisk does);
* the initramfs is busybox-static plus an /init that loads them, takes an address with
  udhcpc, and POSTs /proc/cmdline to the URL in ``ingot_callback=`` on the kernel
  command line, then powers off (with ``-no-reboot`` QEMU then exits).

The archive is written by ingot.ramdisk.cpio (newc + gzip), so no cpio or root-only mknod
is needed, and a device node for /dev/console can be included.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import gzip
import io
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator

from ingot.ramdisk import kmod
from ingot.ramdisk.cpio import CpioWriter
from tests.servers.process import unavailable

# Bump when the initramfs content changes, so cached builds are redone.
FORMAT = "3"
NIC_MODULES = ("virtio_pci", "virtio_net", "e1000")
BUSYBOX_PACKAGE = "busybox-static"
KERNEL_METAPACKAGE = "linux-image-amd64"

INIT = r"""#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /bin /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "ingot-test-init: started"
for module in $(cat /lib/modules/load-order); do
    insmod "/lib/modules/$module" || echo "ingot-test-init: insmod $module failed"
done
callback=""
for word in $(cat /proc/cmdline); do
    case "$word" in
        ingot_callback=*) callback="${word#ingot_callback=}" ;;
    esac
done
nic=""
for attempt in 1 2 3 4 5 6 7 8 9 10; do
    for path in /sys/class/net/*; do
        name="${path##*/}"
        [ "$name" = lo ] || { nic="$name"; break; }
    done
    [ -n "$nic" ] && break
    sleep 1
done
echo "ingot-test-init: nic=$nic callback=$callback"
ip link set lo up
ip link set "$nic" up
udhcpc -i "$nic" -n -q -t 10 -T 2 -s /etc/udhcpc.script
# busybox wget -T segfaults, so the time limit comes from timeout.
timeout 30 wget -q -O /tmp/answer --post-file /proc/cmdline "$callback"
echo "ingot-test-init: callback rc=$?"
sync
poweroff -f
"""

UDHCPC_SCRIPT = r"""#!/bin/sh
case "$1" in
    bound|renew)
        ip addr flush dev "$interface"
        ip addr add "$ip/${mask:-24}" dev "$interface"
        [ -n "$router" ] && ip route add default via "${router%% *}" dev "$interface"
        echo "ingot-test-init: $interface has $ip"
        ;;
esac
exit 0
"""


@dataclasses.dataclass(frozen=True)
class BootFiles:
    """A kernel and an initramfs ready to be served, and what they were built from."""

    kernel: pathlib.Path
    initramfs: pathlib.Path
    kernel_package: str


def cache_root() -> pathlib.Path:
    configured = os.environ.get("INGOT_TEST_CACHE")
    base = pathlib.Path(configured) if configured else pathlib.Path.home() / ".cache"
    return base / "ingot-tests"


def _run(argv: list[str], cwd: pathlib.Path | None = None, timeout: float = 600,
         input_text: str | None = None) -> str:
    try:
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, input=input_text,
                              timeout=timeout, check=False)
    except FileNotFoundError:
        unavailable(f"{argv[0]} is not installed")
        raise  # unreachable: unavailable() skips or fails
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr}")
    return done.stdout


def kernel_package() -> str:
    """The linux-image-6.1.0-N-amd64 the metapackage points at: the current candidate."""
    out = _run(["apt-cache", "depends", KERNEL_METAPACKAGE])
    match = re.search(r"Depends:\s*(linux-image-[0-9.]+-\d+-amd64)\b", out)
    if match is None:
        unavailable(f"apt-cache knows no kernel behind {KERNEL_METAPACKAGE}: {out!r}")
        raise AssertionError  # unreachable
    return match.group(1)


def _download_and_unpack(package: str, workdir: pathlib.Path) -> pathlib.Path:
    _run(["apt-get", "download", "-q", package], cwd=workdir)
    debs = sorted(workdir.glob(f"{package}_*.deb"))
    if not debs:
        raise RuntimeError(f"apt-get download {package} left no .deb in {workdir}")
    tree = workdir / package
    _run(["dpkg", "-x", str(debs[-1]), str(tree)])
    debs[-1].unlink()
    return tree


def nic_modules(modules_dir: pathlib.Path) -> list[tuple[str, bytes]]:
    """NIC driver modules and their dependencies, in load order (dependencies first)."""
    return kmod.closure(modules_dir, NIC_MODULES)


def build_initramfs(busybox: bytes, modules: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    archive = CpioWriter(buffer)
    for directory in ("bin", "sbin", "dev", "etc", "lib", "lib/modules", "proc", "sys",
                      "tmp", "usr", "usr/bin", "usr/sbin"):
        archive.directory(directory)
    archive.char_device("dev/console", 5, 1)
    archive.char_device("dev/null", 1, 3)
    archive.file("bin/busybox", busybox, 0o755)
    archive.symlink("bin/sh", "busybox")
    archive.file("init", INIT.encode(), 0o755)
    archive.file("etc/udhcpc.script", UDHCPC_SCRIPT.encode(), 0o755)
    for name, data in modules:
        archive.file(f"lib/modules/{name}", data)
    archive.file("lib/modules/load-order", "".join(f"{n}\n" for n, _ in modules).encode())
    archive.finish()
    return gzip.compress(buffer.getvalue(), compresslevel=6, mtime=0)


def _busybox(workdir: pathlib.Path) -> bytes:
    """busybox-static's binary: the installed one, or one unpacked from its package."""
    installed = subprocess.run(["dpkg-query", "-W", "-f=${Status}", BUSYBOX_PACKAGE],
                               capture_output=True, text=True, check=False)
    if "install ok installed" in installed.stdout and os.path.exists("/bin/busybox"):
        return pathlib.Path("/bin/busybox").read_bytes()
    tree = _download_and_unpack(BUSYBOX_PACKAGE, workdir)
    return (tree / "bin" / "busybox").read_bytes()


@contextlib.contextmanager
def _locked(path: pathlib.Path) -> Iterator[None]:
    """Only one test process or benchmark builds the files; the others wait for it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def boot_files() -> BootFiles:
    """The cached kernel and initramfs, built on first use (about 10 s and 70 MB download)."""
    for tool in ("apt-get", "apt-cache", "dpkg"):
        if shutil.which(tool) is None:
            unavailable(f"{tool} is needed to build the test kernel and initramfs")
    package = kernel_package()
    target = cache_root() / "netboot" / f"{package}-f{FORMAT}"
    kernel, initramfs = target / "vmlinuz", target / "initramfs.gz"
    with _locked(cache_root() / "netboot.lock"):
        if not (kernel.exists() and initramfs.exists()):
            target.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
                work = pathlib.Path(scratch)
                tree = _download_and_unpack(package, work)
                vmlinuz = next((tree / "boot").glob("vmlinuz-*"))
                modules = nic_modules(next((tree / "lib" / "modules").iterdir()))
                if not any(name.startswith("virtio_net") for name, _ in modules):
                    raise RuntimeError(f"{package} has no virtio_net module")
                image = build_initramfs(_busybox(work), modules)
                # Written under temporary names, then renamed: a crash leaves no half file.
                shutil.copyfile(vmlinuz, target / "vmlinuz.tmp")
                (target / "initramfs.gz.tmp").write_bytes(image)
                os.replace(target / "vmlinuz.tmp", kernel)
                os.replace(target / "initramfs.gz.tmp", initramfs)
    return BootFiles(kernel=kernel, initramfs=initramfs, kernel_package=package)


# A 512-byte MBR that writes a marker to the first serial port and halts: proves that
# the machine booted its local disk. 16-bit code, loaded at 0x7C00:
#   cli; xor ax,ax; mov ds,ax; cld; mov si,msg; mov dx,0x3F8
#   loop: lodsb; test al,al; jz done; out dx,al; jmp loop
#   done: hlt; jmp done
_MBR_CODE = bytes.fromhex("FA 31C0 8ED8 FC BE177C BAF803 AC 84C0 7403 EE EBF8 F4 EBFD")
LOCAL_DISK_MARKER = "INGOT-LOCAL-DISK-BOOTED"


def local_disk_image(path: pathlib.Path, size: int = 1024 * 1024) -> pathlib.Path:
    """A raw disk whose boot sector prints LOCAL_DISK_MARKER on the serial console."""
    assert len(_MBR_CODE) == 0x17  # the message starts right after the code
    sector = _MBR_CODE + f"{LOCAL_DISK_MARKER}\r\n".encode() + b"\0"
    sector = sector.ljust(510, b"\0") + b"\x55\xaa"
    with open(path, "wb") as disk:
        disk.write(sector)
        disk.truncate(size)
    return path
