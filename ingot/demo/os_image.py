"""A small bootable OS to deploy, built from Debian's packages and cached beside the
ramdisk (ingot.ramdisk.cache, entries ``os-bios-*`` and ``os-uefi-*``).

Two raw disks, one OS: the Debian kernel and a busybox initramfs whose /init loads
virtio_blk and isofs, mounts the config-2 partition the deploy wrote, and prints the
hostname and user_data it read there on the serial console, each line starting with
``OS_MARKER``, then powers off. ``ingot demo --qemu`` shows those lines; the QEMU deploy
tests assert them.

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
import subprocess
from collections.abc import Callable

from ingot.ramdisk import cache, debian, kmod
from ingot.ramdisk.cpio import CpioWriter
from ingot.ramdisk.debian import BuildError

# Bump when the disks' content changes for the same inputs.
FORMAT = 1
MODULES = ("virtio_pci", "virtio_blk", "isofs")
OS_MARKER = "INGOT-TEST-OS"
BOOTED = "ingot-test-os: booted from its disk"
SYSLINUX_MBR = pathlib.Path("/usr/lib/syslinux/mbr/mbr.bin")
GRUB_EFI_MODULES = pathlib.Path("/usr/lib/grub/x86_64-efi")
KEEP = 2  # cached disks per firmware (a new kernel makes a new one)
SIZE_MIB = 40  # the boot partition; the disk is 2 MiB larger

INIT = r"""#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /mnt /bin /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "@BOOTED@"
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
""".replace("@MARKER@", OS_MARKER).replace("@BOOTED@", BOOTED)

SYSLINUX_CFG = """SERIAL 0 115200
DEFAULT os
PROMPT 0
TIMEOUT 1
LABEL os
  KERNEL /vmlinuz
  APPEND initrd=/initrd console=ttyS0 quiet
"""

GRUB_CFG = """serial --unit=0 --speed=115200
terminal_output serial console
set timeout=0
linux (memdisk)/vmlinuz console=ttyS0 quiet
initrd (memdisk)/initrd
boot
"""

Progress = Callable[[str], None]
_Maker = Callable[[pathlib.Path, pathlib.Path, bytes, pathlib.Path], None]


def missing_tools(firmware: str = "bios") -> str | None:
    """What this host lacks to build the disk for firmware ("bios" or "uefi"), or None."""
    tools: tuple[str, ...]
    if firmware == "uefi":
        tools = ("mkfs.fat", "mcopy", "mmd", "grub-mkstandalone", "sfdisk")
        packages = "dosfstools, mtools, grub-common, grub-efi-amd64-bin, fdisk"
        files = (GRUB_EFI_MODULES,)
    else:
        tools = ("mkfs.fat", "mcopy", "syslinux", "sfdisk")
        packages = "dosfstools, mtools, syslinux, syslinux-common, fdisk"
        files = (SYSLINUX_MBR,)
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    missing = [tool for tool in ("apt-get", "dpkg", *tools)
               if shutil.which(tool, path=path) is None]
    missing += [str(file) for file in files if not file.exists()]
    if missing:
        return (f"building the {firmware.upper()} OS image needs {', '.join(missing)} "
                f"(Debian packages {packages})")
    return None


def initramfs(busybox: bytes, modules: list[tuple[str, bytes]], init: str = INIT) -> bytes:
    """The OS: busybox, the modules it loads and the /init (by default INIT, which
    reads config-2)."""
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


def busybox(workdir: pathlib.Path) -> bytes:
    """busybox-static's binary: the installed one, or one unpacked from its package."""
    installed = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "busybox-static"],
                               capture_output=True, text=True, check=False)
    if "install ok installed" in installed.stdout and os.path.exists("/bin/busybox"):
        return pathlib.Path("/bin/busybox").read_bytes()
    return (debian.unpack_package("busybox-static", workdir) / "bin" / "busybox"
            ).read_bytes()


def kernel_and_modules(workdir: pathlib.Path, package: str
                       ) -> tuple[pathlib.Path, list[tuple[str, bytes]]]:
    """The Debian kernel package's vmlinuz (unpacked into workdir) and MODULES."""
    tree = debian.unpack_package(package, workdir)
    kernel = next((tree / "boot").glob("vmlinuz-*"))
    return kernel, kmod.closure(next((tree / "lib" / "modules").iterdir()), MODULES)


def _bios_disk(work: pathlib.Path, kernel: pathlib.Path, initrd: bytes,
               output: pathlib.Path) -> None:
    partition = work / "part.img"
    debian.run(["mkfs.fat", "-C", "-n", "OS", str(partition), str(SIZE_MIB * 1024)])
    (work / "initrd").write_bytes(initrd)
    (work / "syslinux.cfg").write_text(SYSLINUX_CFG)
    for name, source in (("vmlinuz", kernel), ("initrd", work / "initrd"),
                         ("syslinux.cfg", work / "syslinux.cfg")):
        debian.run(["mcopy", "-i", str(partition), str(source), f"::/{name}"])
    debian.run(["syslinux", "--install", str(partition)])
    with open(output, "wb") as disk:
        disk.truncate((SIZE_MIB + 2) << 20)
    debian.run(["sfdisk", "--no-reread", "--no-tell-kernel", str(output)],
               input_text="label: dos\nstart=2048, type=c, bootable\n")
    with open(output, "r+b") as disk:
        disk.write(SYSLINUX_MBR.read_bytes()[:440])  # boot code only, not the table
        disk.seek(1 << 20)
        disk.write(partition.read_bytes())


def _uefi_disk(work: pathlib.Path, kernel: pathlib.Path, initrd: bytes,
               output: pathlib.Path) -> None:
    (work / "initrd").write_bytes(initrd)
    (work / "grub.cfg").write_text(GRUB_CFG)
    loader = work / "BOOTX64.EFI"
    debian.run(["grub-mkstandalone", "-O", "x86_64-efi", "-o", str(loader),
                "--modules=part_gpt fat linux normal serial terminal",
                "--locales=", "--fonts=", "--themes=",
                f"boot/grub/grub.cfg={work / 'grub.cfg'}", f"vmlinuz={kernel}",
                f"initrd={work / 'initrd'}"])
    partition = work / "esp.img"
    debian.run(["mkfs.fat", "-F", "32", "-C", "-n", "ESP", str(partition),
                str(SIZE_MIB * 1024)])
    debian.run(["mmd", "-i", str(partition), "::/EFI", "::/EFI/BOOT"])
    debian.run(["mcopy", "-i", str(partition), str(loader), "::/EFI/BOOT/BOOTX64.EFI"])
    with open(output, "wb") as disk:
        disk.truncate((SIZE_MIB + 2) << 20)
    debian.run(["sfdisk", "--no-reread", "--no-tell-kernel", str(output)],
               input_text=f"label: gpt\nstart=2048, size={SIZE_MIB * 2048}, type=uefi, "
                          f"name=ESP\n")
    with open(output, "r+b") as disk:
        disk.seek(1 << 20)
        disk.write(partition.read_bytes())


def _cached(firmware: str, loader: str, make: _Maker, progress: Progress,
            cache_dir: pathlib.Path | None) -> pathlib.Path:
    problem = missing_tools(firmware)
    if problem is not None:
        raise BuildError(problem)
    root = cache_dir or cache.cache_root()
    package = debian.kernel_package()
    prefix = f"os-{firmware}-"
    name = prefix + cache.key({"format": FORMAT, "kernel": package, "init": INIT,
                               "modules": MODULES, "loader": loader})
    with cache.locked(root, name), cache.entry(root, name) as (scratch, ready):
        if ready:
            progress(f"reusing the cached {firmware.upper()} OS image {name}")
        else:
            progress(f"building the {firmware.upper()} OS image {name} from {package} and "
                     f"busybox")
            kernel, modules = kernel_and_modules(scratch, package)
            make(scratch, kernel, initramfs(busybox(scratch), modules), scratch / "disk.img")
            for leftover in scratch.iterdir():
                if leftover.name != "disk.img":
                    (shutil.rmtree if leftover.is_dir() else os.remove)(leftover)
    with cache.locked(root):
        os.utime(root / name)
        cache.prune(root, prefix, KEEP)
    return root / name / "disk.img"


def os_image(progress: Progress = lambda line: None,
             cache_dir: pathlib.Path | None = None) -> pathlib.Path:
    """The cached raw MBR disk for BIOS machines, built on first use."""
    return _cached("bios", SYSLINUX_CFG, _bios_disk, progress, cache_dir)


def uefi_os_image(progress: Progress = lambda line: None,
                  cache_dir: pathlib.Path | None = None) -> pathlib.Path:
    """The cached raw GPT disk for UEFI machines, built on first use."""
    return _cached("uefi", GRUB_CFG, _uefi_disk, progress, cache_dir)
