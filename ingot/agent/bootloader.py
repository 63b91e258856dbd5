"""``image.install_bootloader``: GRUB from the deployed image, as Ironic's agent does.

The root partition (found by the UUID prepare_image reported) is mounted with /dev,
/proc and /sys bound into it, and the image's own ``grub-install`` runs in a chroot:
for BIOS onto the disk (the MBR gap, or the BIOS boot partition of a GPT disk); for
UEFI onto the EFI system partition mounted at /boot/efi, at the removable-media path
firmware boots without a boot entry, plus a boot entry with efibootmgr when the
ramdisk sees EFI variables. ``grub-mkconfig`` then writes the image's grub.cfg.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

from ingot.agent.commands import CommandContext, CommandError, CommandRunner
from ingot.agent.partition_image import (
    AttachedDisk,
    PartitionImageError,
    attached,
    block_uuid,
    run,
)

LOG = logging.getLogger(__name__)
EFI_VARS = "/sys/firmware/efi/efivars"
BOOTLOADER_ID = "ingot"


def _find(disk: AttachedDisk, uuid: str) -> tuple[str, int]:
    for number in disk.numbers():
        with contextlib.suppress(PartitionImageError):
            device = disk.partition(number)
            if block_uuid(device).lower() == uuid.lower():
                return device, number
    raise PartitionImageError(f"no partition of {disk.target} has the UUID {uuid}.")


def _tool(name: str) -> list[str]:
    """util-linux's mount and umount, else busybox's (all ingot's ramdisk has)."""
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    if shutil.which(name, path=search) is None and shutil.which("busybox", path=search):
        return ["busybox", name]
    return [name]


@contextlib.contextmanager
def _mounted(device: str, where: str, *options: str) -> Iterator[None]:
    run([*_tool("mount"), *options, device, where], what=f"mount {device}")
    try:
        yield
    finally:
        with contextlib.suppress(PartitionImageError):
            run([*_tool("umount"), where], what=f"unmount {where}")


def _in_root(root: str, argv: list[str], what: str) -> str:
    for name in (argv[0], argv[0].replace("grub-", "grub2-")):
        for directory in ("usr/sbin", "usr/bin", "sbin", "bin"):
            if os.path.exists(os.path.join(root, directory, name)):
                return run(["chroot", root, f"/{directory}/{name}", *argv[1:]], what=what)
    raise PartitionImageError(f"the image has no {argv[0]}: cannot {what}.")


def install(target: str, root_uuid: str, efi_uuid: str | None, boot_mode: str) -> None:
    with attached(target) as disk, \
            tempfile.TemporaryDirectory(prefix="ingot-root-") as root:
        root_device, _ = _find(disk, root_uuid)
        with contextlib.ExitStack() as mounts:
            mounts.enter_context(_mounted(root_device, root))
            for path in ("dev", "proc", "sys"):
                inside = os.path.join(root, path)
                os.makedirs(inside, exist_ok=True)
                mounts.enter_context(_mounted(f"/{path}", inside, "-o", "bind"))
            if boot_mode == "uefi":
                if not efi_uuid:
                    raise PartitionImageError("UEFI boot needs efi_system_part_uuid.")
                esp, number = _find(disk, efi_uuid)
                efi_dir = os.path.join(root, "boot", "efi")
                os.makedirs(efi_dir, exist_ok=True)
                # The kernel's default FAT iocharset (utf8) may be a module the ramdisk
                # lacks; these two it has.
                mounts.enter_context(_mounted(esp, efi_dir, "-t", "vfat", "-o",
                                              "codepage=437,iocharset=iso8859-1"))
                _in_root(root, ["grub-install", "--target=x86_64-efi",
                                "--efi-directory=/boot/efi", "--removable", "--no-nvram",
                                f"--bootloader-id={BOOTLOADER_ID}"],
                         "install GRUB for UEFI")
                _boot_entry(disk.whole, number)
            else:
                _in_root(root, ["grub-install", "--target=i386-pc", disk.whole],
                         "install GRUB for BIOS")
            config = "/boot/grub2/grub.cfg" if os.path.isdir(
                os.path.join(root, "boot", "grub2")) else "/boot/grub/grub.cfg"
            _in_root(root, ["grub-mkconfig", "-o", config], "write grub.cfg")
        os.sync()


def _boot_entry(disk: str, number: int) -> None:
    """A boot entry first in BootOrder; firmware without one still finds the
    removable-media path, so a missing efivarfs is only logged."""
    if not os.path.isdir(EFI_VARS) or not os.listdir(EFI_VARS):
        with contextlib.suppress(PartitionImageError, OSError):
            run([*_tool("mount"), "-t", "efivarfs", "efivarfs", EFI_VARS],
                what="mount efivarfs")
    if not os.path.isdir(EFI_VARS) or not os.listdir(EFI_VARS):
        LOG.info("No EFI variables here: the firmware boots \\EFI\\BOOT\\BOOTX64.EFI")
        return
    try:
        run(["efibootmgr", "--create", "--disk", disk, "--part", str(number),
             "--label", BOOTLOADER_ID, "--loader", "\\EFI\\BOOT\\BOOTX64.EFI"],
            what="add the UEFI boot entry")
    except PartitionImageError as exc:
        LOG.warning("%s; the firmware still finds the removable-media path", exc)


class Image:
    """The ``image`` extension of Ironic's agent: install_bootloader."""

    def __init__(self, target: str):
        self.target = target

    def register(self, runner: CommandRunner) -> None:
        runner.register("image.install_bootloader", self.install_bootloader,
                        asynchronous=True)

    def install_bootloader(self, context: CommandContext, root_uuid: str,
                           efi_system_part_uuid: str | None = None,
                           prep_boot_part_uuid: str | None = None,
                           target_boot_mode: str = "bios",
                           ignore_bootloader_failure: bool = False,
                           **_ignored: Any) -> None:
        if prep_boot_part_uuid:
            raise CommandError("PReP boot partitions (ppc64) are not supported.",
                               type_name="InvalidCommandParamsError", code=400)
        try:
            install(self.target, root_uuid, efi_system_part_uuid, target_boot_mode)
        except PartitionImageError as exc:
            if ignore_bootloader_failure:
                LOG.warning("Installing the bootloader failed, ignored as asked: %s", exc)
                return
            raise CommandError(str(exc), type_name="CommandExecutionError",
                               message="Installing the bootloader failed") from exc
        LOG.info("GRUB installed from the image (%s) onto %s", target_boot_mode, self.target)
