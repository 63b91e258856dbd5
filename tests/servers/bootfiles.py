"""A real Debian kernel and a busybox initramfs that calls back, for network-boot tests.

Built once and cached under ~/.cache/ingot-tests/ (``INGOT_TEST_CACHE`` moves it):

* the kernel is the ``vmlinuz`` of the Debian package ``linux-image-amd64`` depends on,
  fetched with ``apt-get download`` and unpacked with ``dpkg -x``;
* its NIC drivers are modules, so the initramfs carries virtio_net and e1000 with their
  dependencies (read from each module's ``.modinfo``: the package has no modules.dep,
  depmod makes that at install time);
* the initramfs is busybox-static plus an /init that loads them, takes an address with
  udhcpc, and POSTs /proc/cmdline to the URL in ``ingot_callback=`` on the kernel
  command line, then powers off (with ``-no-reboot`` QEMU then exits).

The archive is written in Python (cpio newc + gzip), so no cpio or root-only mknod is
needed, and a device node for /dev/console can be included.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import gzip
import io
import lzma
import os
import pathlib
import re
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Iterator

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


def _run(argv: list[str], cwd: pathlib.Path | None = None, timeout: float = 600) -> str:
    try:
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True,
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


def _modinfo(module: bytes) -> dict[str, str]:
    """The key=value strings of an ELF64 module's .modinfo section."""
    if module[:4] != b"\x7fELF" or module[4] != 2:
        raise ValueError("not an ELF64 kernel module")
    shoff, = struct.unpack_from("<Q", module, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", module, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", module, shoff + i * shentsize)
                for i in range(shnum)]
    names_offset = sections[shstrndx][4]
    info: dict[str, str] = {}
    for name, _type, _flags, _addr, offset, size, *_ in sections:
        end = module.index(b"\0", names_offset + name)
        if module[names_offset + name:end] != b".modinfo":
            continue
        for entry in module[offset:offset + size].split(b"\0"):
            key, sep, value = entry.decode("ascii", "replace").partition("=")
            if sep:
                info.setdefault(key, value)
    return info


def _read_module(path: pathlib.Path) -> bytes:
    data = path.read_bytes()
    if path.name.endswith(".xz"):
        return lzma.decompress(data)
    if path.name.endswith(".gz"):
        return gzip.decompress(data)
    if path.name.endswith(".zst"):
        raise RuntimeError(f"{path}: zstd modules are not supported by this harness")
    return data


def _module_name(path: pathlib.Path) -> str:
    return path.name.split(".ko")[0].replace("-", "_")


def nic_modules(modules_dir: pathlib.Path) -> list[tuple[str, bytes]]:
    """NIC driver modules and their dependencies, in load order (dependencies first)."""
    paths = {_module_name(p): p for p in modules_dir.rglob("*.ko*")}
    ordered: list[tuple[str, bytes]] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen or name not in paths:  # absent: built into the kernel
            return
        seen.add(name)
        data = _read_module(paths[name])
        for dependency in filter(None, _modinfo(data).get("depends", "").split(",")):
            visit(dependency.replace("-", "_"))
        ordered.append((f"{name}.ko", data))

    for name in NIC_MODULES:
        visit(name)
    return ordered


class _Cpio:
    """A cpio archive in the "newc" format the kernel unpacks as its initramfs."""

    def __init__(self) -> None:
        self.out = io.BytesIO()
        self.inode = 1

    def _entry(self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0),
               nlink: int = 1) -> None:
        encoded = name.encode() + b"\0"
        fields = (self.inode, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1],
                  len(encoded), 0)
        self.inode += 1
        self.out.write(b"070701" + b"".join(b"%08X" % value for value in fields))
        self.out.write(encoded)
        self.out.write(b"\0" * (-(110 + len(encoded)) % 4))
        self.out.write(data)
        self.out.write(b"\0" * (-len(data) % 4))

    def directory(self, name: str) -> None:
        self._entry(name, 0o040755, nlink=2)

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self._entry(name, 0o100000 | mode, data)

    def symlink(self, name: str, target: str) -> None:
        self._entry(name, 0o120777, target.encode())

    def char_device(self, name: str, major: int, minor: int) -> None:
        self._entry(name, 0o020600, rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        return self.out.getvalue()


def build_initramfs(busybox: bytes, modules: list[tuple[str, bytes]]) -> bytes:
    archive = _Cpio()
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
    return gzip.compress(archive.finish(), compresslevel=6, mtime=0)


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
