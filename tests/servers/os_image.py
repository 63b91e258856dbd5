"""A small bootable OS for end-to-end deploys, built from Debian's packages and cached
under ~/.cache/ingot-tests/os-image (like bootfiles.py).

Two raw disks, one OS: the Debian kernel and a busybox initramfs whose /init loads
virtio_blk and isofs, mounts the config-2 partition the deploy wrote, and prints the
hostname and user_data it read there on the serial console, between ``OS_MARKER`` lines,
then powers off.

* ``os_image()``, for BIOS: an MBR disk, syslinux's boot code, one FAT partition with
  syslinux, the kernel and the initramfs;
* ``uefi_os_image()``, for UEFI: a GPT disk whose EFI system partition holds only
  ``EFI/BOOT/BOOTX64.EFI``, the firmware's fallback path: a standalone GRUB
  (grub-mkstandalone, grub-efi-amd64-bin) carrying its grub.cfg, the kernel and the
  initramfs in its memdisk.
"""

from __future__ import annotations

import gzip
import io
import os
import pathlib
import shutil
import tempfile
from collections.abc import Callable

from ingot.ramdisk import kmod
from ingot.ramdisk.cpio import CpioWriter
from tests.servers.bootfiles import (
    _busybox,
    _download_and_unpack,
    _locked,
    _run,
    cache_root,
    kernel_package,
)
from tests.servers.process import unavailable

FORMAT = "1"
UEFI_FORMAT = "1"
MODULES = ("virtio_pci", "virtio_blk", "isofs")
OS_MARKER = "INGOT-TEST-OS"
SYSLINUX_MBR = pathlib.Path("/usr/lib/syslinux/mbr/mbr.bin")

INIT = r"""#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /mnt /bin /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "ingot-test-os: booted from its disk"
for module in $(cat /lib/modules/load-order); do insmod "/lib/modules/$module"; done
found=""
for attempt in 1 2 3 4 5 6 7 8 9 10; do
    for device in /dev/vd*[0-9] /dev/sd*[0-9]; do
        [ -b "$device" ] || continue
        if mount -t iso9660 -o ro "$device" /mnt 2>/dev/null; then
            [ -f /mnt/openstack/latest/meta_data.json ] && { found="$device"; break; }
            umount /mnt
        fi
    done
    [ -n "$found" ] && break
    sleep 1
done
echo "@MARKER@ config-2 on ${found:-nothing}"
if [ -n "$found" ]; then
    hostname=$(sed -n 's/.*"hostname": *"\([^"]*\)".*/\1/p' /mnt/openstack/latest/meta_data.json)
    echo "@MARKER@ hostname=$hostname"
    echo "@MARKER@ user_data=$(cat /mnt/openstack/latest/user_data)"
fi
echo "@MARKER@ done"
sync
poweroff -f
""".replace("@MARKER@", OS_MARKER)

SYSLINUX_CFG = """SERIAL 0 115200
DEFAULT os
PROMPT 0
TIMEOUT 1
LABEL os
  KERNEL /vmlinuz
  APPEND initrd=/initrd console=ttyS0 quiet
"""


def _initramfs(busybox: bytes, modules: list[tuple[str, bytes]], init: str = INIT) -> bytes:
    buffer = io.BytesIO()
    archive = CpioWriter(buffer)
    for directory in ("bin", "dev", "lib", "lib/modules", "mnt", "proc", "sys"):
        archive.directory(directory)
    archive.char_device("dev/console", 5, 1)
    archive.file("bin/busybox", busybox, 0o755)
    archive.file("init", init.encode(), 0o755)
    for name, data in modules:
        archive.file(f"lib/modules/{name}", data)
    archive.file("lib/modules/load-order", "".join(f"{n}\n" for n, _ in modules).encode())
    archive.finish()
    return gzip.compress(buffer.getvalue(), compresslevel=6, mtime=0)


def _disk(work: pathlib.Path, kernel: pathlib.Path, initrd: bytes,
          output: pathlib.Path) -> None:
    partition = work / "part.img"
    size_mib = 40
    _run(["mkfs.fat", "-C", "-n", "OS", str(partition), str(size_mib * 1024)])
    (work / "initrd").write_bytes(initrd)
    (work / "syslinux.cfg").write_text(SYSLINUX_CFG)
    for name, source in (("vmlinuz", kernel), ("initrd", work / "initrd"),
                         ("syslinux.cfg", work / "syslinux.cfg")):
        _run(["mcopy", "-i", str(partition), str(source), f"::/{name}"])
    _run(["syslinux", "--install", str(partition)])
    with open(output, "wb") as disk:
        disk.truncate((size_mib + 2) << 20)
    _run(["sfdisk", "--no-reread", "--no-tell-kernel", str(output)],
         input_text="label: dos\nstart=2048, type=c, bootable\n")
    with open(output, "r+b") as disk:
        disk.write(SYSLINUX_MBR.read_bytes()[:440])  # boot code only, not the table
        disk.seek(1 << 20)
        disk.write(partition.read_bytes())


GRUB_CFG = """serial --unit=0 --speed=115200
terminal_output serial console
set timeout=0
linux (memdisk)/vmlinuz console=ttyS0 quiet
initrd (memdisk)/initrd
boot
"""


def _uefi_disk(work: pathlib.Path, kernel: pathlib.Path, initrd: bytes,
               output: pathlib.Path) -> None:
    (work / "initrd").write_bytes(initrd)
    (work / "grub.cfg").write_text(GRUB_CFG)
    loader = work / "BOOTX64.EFI"
    _run(["grub-mkstandalone", "-O", "x86_64-efi", "-o", str(loader),
          "--modules=part_gpt fat linux normal serial terminal",
          "--locales=", "--fonts=", "--themes=",
          f"boot/grub/grub.cfg={work / 'grub.cfg'}", f"vmlinuz={kernel}",
          f"initrd={work / 'initrd'}"])
    size_mib = 40
    partition = work / "esp.img"
    _run(["mkfs.fat", "-F", "32", "-C", "-n", "ESP", str(partition), str(size_mib * 1024)])
    _run(["mmd", "-i", str(partition), "::/EFI", "::/EFI/BOOT"])
    _run(["mcopy", "-i", str(partition), str(loader), "::/EFI/BOOT/BOOTX64.EFI"])
    with open(output, "wb") as disk:
        disk.truncate((size_mib + 2) << 20)
    _run(["sfdisk", "--no-reread", "--no-tell-kernel", str(output)],
         input_text=f"label: gpt\nstart=2048, size={size_mib * 2048}, type=uefi, "
                    f"name=ESP\n")
    with open(output, "r+b") as disk:
        disk.seek(1 << 20)
        disk.write(partition.read_bytes())


def uefi_os_image() -> pathlib.Path:
    """The cached raw GPT disk image for UEFI machines, built on first use."""
    for tool in ("mkfs.fat", "mcopy", "mmd", "grub-mkstandalone", "sfdisk"):
        if shutil.which(tool) is None:
            unavailable(f"{tool} is needed to build the UEFI test OS image (Debian "
                        f"packages dosfstools, mtools, grub-common, grub-efi-amd64-bin, "
                        f"fdisk)")
    if not pathlib.Path("/usr/lib/grub/x86_64-efi").is_dir():
        unavailable("GRUB's EFI modules are missing (Debian package grub-efi-amd64-bin)")
    return _cached(f"uefi-{UEFI_FORMAT}", _uefi_disk)


def _cached(name: str, make: Callable[[pathlib.Path, pathlib.Path, bytes, pathlib.Path],
                                      None]) -> pathlib.Path:
    package = kernel_package()
    target = cache_root() / "os-image" / f"{package}-{name}"
    image = target / "disk.img"
    with _locked(cache_root() / "os-image.lock"):
        if not image.exists():
            target.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
                work = pathlib.Path(scratch)
                tree = _download_and_unpack(package, work)
                kernel = next((tree / "boot").glob("vmlinuz-*"))
                modules = kmod.closure(next((tree / "lib" / "modules").iterdir()), MODULES)
                make(work, kernel, _initramfs(_busybox(work), modules), work / "disk.img")
                os.replace(work / "disk.img", image)
    return image


def os_image() -> pathlib.Path:
    """The cached raw disk image, built on first use."""
    for tool in ("mkfs.fat", "mcopy", "syslinux", "sfdisk"):
        if shutil.which(tool) is None:
            unavailable(f"{tool} is needed to build the test OS image (Debian packages "
                        f"dosfstools, mtools, syslinux, syslinux-common, fdisk)")
    if not SYSLINUX_MBR.exists():
        unavailable(f"{SYSLINUX_MBR} is missing (Debian package syslinux-common)")
    return _cached(f"f{FORMAT}", _disk)
