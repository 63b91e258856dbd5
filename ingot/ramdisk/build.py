"""``ingot ramdisk build``: the kernel, initramfs and ISO, each step cached by its inputs.

Steps: Debian root (mmdebstrap) and kernel package (apt-get download) -> the kernel
modules a machine needs -> the agent's Python libraries (pinned to ingot's own) -> the
base layer (zstd) -> ingot's layer on top -> the ISO.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pathlib
import shutil
import tempfile
import time
from collections.abc import Callable

from ingot.ramdisk import cache, debian, iso, kmod, pack, python

# Bump when the build's logic changes what it makes from the same inputs.
FORMAT = 1
# Cached entries kept, this build's included: each change of ingot's code makes a new
# ramdisk entry (a few seconds to make), each new Debian or Python version or package list
# a new base (minutes), and several checkouts on different branches share the cache.
KEEP_RAMDISKS = 8
KEEP_BASES = 4
MODULES = ("virtio_pci", "virtio_net", "virtio_blk", "virtio_scsi", "sd_mod", "sr_mod",
           "e1000", "e1000e", "ahci", "ata_piix", "nvme", "isofs", "vfat", "nls_cp437",
           "nls_iso8859_1", "loop", "ext4", "crc32c_generic", "efivarfs")
# The last console is /dev/console, where /init and the agent write: the serial one.
DEFAULT_ISO_APPEND = "console=tty0 console=ttyS0,115200"

Progress = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class Ramdisk:
    kernel: pathlib.Path
    initramfs: pathlib.Path
    iso: pathlib.Path | None
    kernel_package: str
    seconds: float


def _sha256(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _base_inputs(kernel_package: str) -> dict[str, object]:
    return {
        "format": FORMAT, "suite": debian.SUITE,
        "debian": debian.candidate_versions((*debian.PACKAGES, kernel_package)),
        "modules": MODULES, "python": python.pinned_closure(),
        "zstd": pack.ZSTD_LEVEL,
    }


def _build_base(directory: pathlib.Path, kernel_package: str, progress: Progress) -> None:
    with tempfile.TemporaryDirectory(dir=directory) as scratch:
        work = pathlib.Path(scratch)
        progress(f"downloading the kernel package {kernel_package}")
        tree = debian.unpack_package(kernel_package, work)
        shutil.copyfile(next((tree / "boot").glob("vmlinuz-*")), directory / "vmlinuz")
        modules = kmod.closure(next((tree / "lib" / "modules").iterdir()), MODULES)
        progress(f"kept {len(modules)} kernel modules "
                 f"({sum(len(d) for _, d in modules) >> 10} KiB)")
        shutil.rmtree(tree)
        progress(f"building the Debian root ({', '.join(debian.PACKAGES)}) with mmdebstrap")
        root = work / "root.tar"
        debian.root_tar(root)
        progress("installing the agent's Python libraries")
        site = work / "site-packages"
        python.install(python.pinned_closure(), site)
        progress(f"packing and compressing the base layer (zstd -{pack.ZSTD_LEVEL})")
        pack.base_layer(root, modules, site, directory / "base.cpio.zst")


def build(output: pathlib.Path | None = None, *, progress: Progress = print,
          iso_append: str | None = DEFAULT_ISO_APPEND,
          cache_dir: pathlib.Path | None = None) -> Ramdisk:
    """Build (or reuse) the ramdisk and put vmlinuz, initramfs (and ingot-ramdisk.iso
    unless ``iso_append`` is None) in ``output`` (default: the cache's own directory)."""
    started = time.monotonic()
    root = cache_dir or cache.cache_root()
    kernel_package = debian.kernel_package()
    inputs = _base_inputs(kernel_package)
    base_key = cache.key(inputs)
    base = root / f"base-{base_key}"
    with cache.locked(root, base.name), cache.entry(root, base.name) as (scratch, ready):
        if ready:
            progress(f"reusing the cached base layer {base.name}")
        else:
            progress(f"building the base layer {base.name} (the first build takes "
                     f"a few minutes)")
            _build_base(scratch, kernel_package, progress)
    layer = pack.ingot_layer(python.ingot_files())
    final = root / f"ramdisk-{base_key}-{hashlib.sha256(layer).hexdigest()[:12]}"
    with cache.locked(root, final.name):
        with cache.entry(root, final.name) as (scratch, ready):
            if not ready:
                progress("adding ingot's own package")
                shutil.copyfile(base / "vmlinuz", scratch / "vmlinuz")
                with open(scratch / "initramfs", "wb") as out:
                    with open(base / "base.cpio.zst", "rb") as source:
                        shutil.copyfileobj(source, out)
                    out.write(layer)
        with cache.locked(root):
            os.utime(final)
            os.utime(base)  # most recently used: pruned last
            cache.prune(root, "ramdisk-", KEEP_RAMDISKS)
            cache.prune(root, "base-", KEEP_BASES)
        # One ISO per kernel command line it was made for.
        image = final / f"iso-{cache.key(iso_append)}" / "ingot-ramdisk.iso"
        if iso_append is not None and not image.exists():
            progress("making the bootable ISO (BIOS and UEFI) with grub-mkrescue")
            image.parent.mkdir(exist_ok=True)
            iso.make_iso(final / "vmlinuz", final / "initramfs", image, iso_append)
    kernel, initramfs = final / "vmlinuz", final / "initramfs"
    made_iso = image if image.exists() else None
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        for path in filter(None, (kernel, initramfs, made_iso)):
            shutil.copyfile(path, output / f".{path.name}.tmp")
            (output / f".{path.name}.tmp").replace(output / path.name)
        kernel, initramfs = output / kernel.name, output / initramfs.name
        made_iso = output / made_iso.name if made_iso else None
    seconds = time.monotonic() - started
    progress(f"kernel     {kernel} ({kernel.stat().st_size >> 20} MiB)")
    progress(f"initramfs  {initramfs} ({initramfs.stat().st_size >> 20} MiB, "
             f"sha256 {_sha256(initramfs)[:16]}...)")
    if made_iso:
        progress(f"iso        {made_iso} ({made_iso.stat().st_size >> 20} MiB)")
    progress(f"done in {seconds:.0f} s")
    return Ramdisk(kernel, initramfs, made_iso, kernel_package, seconds)

