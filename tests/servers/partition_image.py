"""A partition image (a root file system, no partition table) built from Debian's
packages and cached under ~/.cache/ingot-tests/partition-image.

The root has GRUB for BIOS and UEFI (grub-pc-bin, grub-efi-amd64-bin, grub2-common, on
Debian's essential packages), which the agent runs in a chroot to make the disk
bootable, and in /boot the Debian kernel with the test OS's busybox initramfs
(ingot/demo/os_image.py: it prints the hostname and user_data of the config drive on
the serial console between ``OS_MARKER`` lines, then powers off). Before powering off,
this image's init also mounts the ext4 file systems labelled ``ephemeral0`` and ``root``,
prints the marker file an earlier boot left on each (``<label> marker=<hostname>``, or
``none``) and writes its own hostname there: after a rebuild with preserve_ephemeral
the OS itself shows which file system was kept and which was replaced. GRUB's menu is
on the serial console with no timeout. Shipped as qcow2, so the agent converts it onto the
root partition with the ramdisk's qemu-img.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import tempfile

from ingot.demo.os_image import INIT, MODULES, OS_MARKER, initramfs
from ingot.ramdisk import kmod
from tests.servers.bootfiles import (
    _busybox,
    _download_and_unpack,
    _locked,
    _run,
    cache_root,
    kernel_package,
)
from tests.servers.process import unavailable

FORMAT = "2"
SUITE = "bookworm"
PACKAGES = ("grub-pc-bin", "grub-efi-amd64-bin", "grub2-common")
DEFAULT_GRUB = """GRUB_DEFAULT=0
GRUB_TIMEOUT=0
GRUB_DISTRIBUTOR=ingot-test
GRUB_CMDLINE_LINUX="console=ttyS0,115200"
GRUB_TERMINAL="serial"
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
GRUB_DISABLE_OS_PROBER=true
GRUB_DISABLE_RECOVERY=true
"""
# ext4 asks for crc32c at mount time (metadata checksums), which no dependency loads.
FS_MODULES = ("ext4", "crc32c_generic")
MARKERS = f"""mkdir -p /fs
for label in ephemeral0 root; do
    device=$(findfs "LABEL=$label" 2>/dev/null)
    if [ -n "$device" ] && mount -t ext4 "$device" /fs; then
        echo "{OS_MARKER} $label marker=$(cat /fs/ingot-marker 2>/dev/null || echo none)"
        echo "$hostname" > /fs/ingot-marker
        umount /fs
    else
        echo "{OS_MARKER} $label not mounted"
    fi
done
"""
DONE = f'echo "{OS_MARKER} done"'
assert DONE in INIT
PARTITION_INIT = INIT.replace(DONE, MARKERS + DONE)
_EXCLUDED = ("/usr/share/doc/*", "/usr/share/man/*", "/usr/share/locale/*",
             "/usr/share/info/*", "/usr/share/zoneinfo/*")


def partition_image() -> pathlib.Path:
    """The cached qcow2 root file system image, built on first use."""
    for tool in ("mmdebstrap", "mkfs.ext4", "qemu-img"):
        if shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin") is None:
            unavailable(f"{tool} is needed to build the partition image (Debian packages "
                        f"mmdebstrap, e2fsprogs, qemu-utils)")
    package = kernel_package()
    target = cache_root() / "partition-image" / f"{package}-f{FORMAT}"
    image = target / "root.qcow2"
    with _locked(cache_root() / "partition-image.lock"):
        if not image.exists():
            target.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
                work = pathlib.Path(scratch)
                _build(work, package)
                os.replace(work / "root.qcow2", image)
    return image


def _build(work: pathlib.Path, package: str) -> None:
    root = work / "root"
    _run(["mmdebstrap", "--quiet", "--variant=essential",
          f"--include={','.join(PACKAGES)}",
          *(f"--dpkgopt=path-exclude={pattern}" for pattern in _EXCLUDED),
          SUITE, str(root)], timeout=900)
    tree = _download_and_unpack(package, work)
    kernel = next((tree / "boot").glob("vmlinuz-*"))
    version = kernel.name.removeprefix("vmlinuz-")
    modules = kmod.closure(next((tree / "lib" / "modules").iterdir()), MODULES + FS_MODULES)
    shutil.copyfile(kernel, root / "boot" / kernel.name)
    (root / "boot" / f"initrd.img-{version}").write_bytes(
        initramfs(_busybox(work), modules, PARTITION_INIT))
    (root / "etc" / "default").mkdir(parents=True, exist_ok=True)
    (root / "etc" / "default" / "grub").write_text(DEFAULT_GRUB)
    raw = work / "root.ext4"
    used = sum(f.stat().st_size for f in root.rglob("*") if f.is_file() and
               not f.is_symlink())
    size_mib = used // (1 << 20) * 5 // 4 + 64  # room for GRUB's files and grub.cfg
    _run(["mkfs.ext4", "-q", "-F", "-L", "root", "-d", str(root), str(raw),
          f"{size_mib}M"])
    _run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw),
          str(work / "root.qcow2")])
