"""A bootable ISO of the kernel and initramfs, for BIOS and UEFI, made by grub-mkrescue
(GRUB's El Torito images for both, written by xorriso)."""

from __future__ import annotations

import pathlib
import shutil
import tempfile

from ingot.ramdisk.debian import run

GRUB_CFG = """\
set timeout=1
set default=0
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
menuentry "ingot deploy ramdisk" {{
    linux /boot/vmlinuz {append}
    initrd /boot/initramfs
}}
"""


def make_iso(kernel: pathlib.Path, initramfs: pathlib.Path, output: pathlib.Path,
             append: str) -> None:
    """Write the ISO; ``append`` is the kernel command line (ipa-api-url and so on)."""
    with tempfile.TemporaryDirectory(dir=output.parent) as scratch:
        tree = pathlib.Path(scratch) / "iso"
        (tree / "boot" / "grub").mkdir(parents=True)
        shutil.copyfile(kernel, tree / "boot" / "vmlinuz")
        shutil.copyfile(initramfs, tree / "boot" / "initramfs")
        (tree / "boot" / "grub" / "grub.cfg").write_text(GRUB_CFG.format(append=append))
        # xorriso takes its timestamps from here: the same inputs give the same ISO.
        run(["grub-mkrescue", "-o", str(output), str(tree), "--", "-volid", "INGOT_IPA"],
            env={"SOURCE_DATE_EPOCH": "0"})
