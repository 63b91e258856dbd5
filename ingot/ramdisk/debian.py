"""Debian's part of the ramdisk: a kernel package and a root file system, fetched with
the host's own apt configuration (its mirror, its keys)."""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess

KERNEL_METAPACKAGE = "linux-image-amd64"
SUITE = "bookworm"
# What the agent runs besides Python: busybox (init, udhcpc, insmod), sfdisk for the
# config drive and partition images' tables, qemu-img for images that are not raw,
# mkfs.ext4/mkfs.vfat/efibootmgr for partition images' ephemeral, ESP and boot entry.
PACKAGES = ("python3", "busybox-static", "fdisk", "qemu-utils", "e2fsprogs", "dosfstools",
            "efibootmgr")


class BuildError(RuntimeError):
    """A step of the build failed; the message says which and why."""


def run(argv: list[str], cwd: pathlib.Path | None = None, timeout: float = 900,
        env: dict[str, str] | None = None, input_text: str | None = None) -> str:
    if shutil.which(argv[0]) is None:
        raise BuildError(f"{argv[0]} is not installed (Debian package "
                         f"{_TOOL_PACKAGES.get(argv[0], argv[0])})")
    try:
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True,
                              input=input_text, timeout=timeout, check=False,
                              env={**os.environ, **env} if env else None)
    except subprocess.TimeoutExpired:
        raise BuildError(f"{argv[0]} took more than {timeout:.0f} s") from None
    if done.returncode != 0:
        raise BuildError(f"{' '.join(argv[:3])}... failed ({done.returncode}): "
                         f"{done.stderr.strip()[-1500:]}")
    return done.stdout


_TOOL_PACKAGES = {"apt-get": "apt", "apt-cache": "apt", "dpkg": "dpkg",
                  "mmdebstrap": "mmdebstrap", "zstd": "zstd",
                  "grub-mkrescue": "grub-common, grub-pc-bin, grub-efi-amd64-bin, xorriso "
                                   "and mtools"}


def kernel_package() -> str:
    """The linux-image-X-amd64 the metapackage points at: the current candidate."""
    out = run(["apt-cache", "depends", KERNEL_METAPACKAGE])
    match = re.search(r"Depends:\s*(linux-image-[0-9.]+-\d+-amd64)\b", out)
    if match is None:
        raise BuildError(f"apt-cache knows no kernel behind {KERNEL_METAPACKAGE}")
    return match.group(1)


def candidate_versions(packages: tuple[str, ...]) -> dict[str, str]:
    """The versions apt would install now: part of the cache key."""
    out = run(["apt-cache", "show", "--no-all-versions", *packages])
    versions: dict[str, str] = {}
    name = ""
    for line in out.splitlines():
        if line.startswith("Package: "):
            name = line.split(": ", 1)[1]
        elif line.startswith("Version: ") and name:
            versions[name] = line.split(": ", 1)[1]
    missing = set(packages) - set(versions)
    if missing:
        raise BuildError(f"apt knows no package {', '.join(sorted(missing))}")
    return versions


def unpack_package(package: str, workdir: pathlib.Path) -> pathlib.Path:
    """``apt-get download`` then ``dpkg -x``: the package's files, never installed."""
    run(["apt-get", "download", "-q", package], cwd=workdir)
    debs = sorted(workdir.glob(f"{package}_*.deb"))
    if not debs:
        raise BuildError(f"apt-get download {package} left no .deb in {workdir}")
    tree = workdir / package
    run(["dpkg", "-x", str(debs[-1]), str(tree)])
    debs[-1].unlink()
    return tree


def root_tar(path: pathlib.Path) -> None:
    """A Debian root (essential packages and PACKAGES) as a tar archive.

    Documentation, manuals and translations are never unpacked; the rest of the pruning
    happens while packing (prune.py).
    """
    excluded = ("/usr/share/doc/*", "/usr/share/man/*", "/usr/share/locale/*",
                "/usr/share/info/*", "/usr/share/lintian/*", "/usr/share/zoneinfo/*")
    argv = ["mmdebstrap", "--quiet", "--variant=essential", f"--include={','.join(PACKAGES)}"]
    argv += [f"--dpkgopt=path-exclude={pattern}" for pattern in excluded]
    run([*argv, SUITE, str(path)])
