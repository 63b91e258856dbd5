"""``ingot ramdisk build``: the deploy ramdisk (kernel, initramfs, ISO) from Debian's
packages and PyPI, cached under ~/.cache/ingot/ramdisk."""

from __future__ import annotations

import argparse
import pathlib
import sys
from typing import Any


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("ramdisk", help="the deploy ramdisk running ingot's agent")
    commands = parser.add_subparsers(dest="ramdisk_command", required=True, metavar="COMMAND")
    build = commands.add_parser(
        "build", help="build (or reuse from the cache) a kernel, an initramfs and an ISO")
    build.add_argument("--output", type=pathlib.Path,
                       help="copy vmlinuz, initramfs and ingot-ramdisk.iso here "
                            "(default: print where they are in the cache)")
    build.add_argument("--no-iso", action="store_true", help="skip the ISO")
    build.add_argument("--iso-append", default=None,
                       help="kernel command line of the ISO's boot entry, e.g. "
                            "'ipa-api-url=http://HOST:6385 console=ttyS0' "
                            "(default: consoles only)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, conf_args: list[str]) -> int:
    from ingot.ramdisk import build  # noqa: PLC0415 - only this command needs it
    from ingot.ramdisk.debian import BuildError  # noqa: PLC0415

    if conf_args:
        print(f"ingot ramdisk: unrecognized arguments: {' '.join(conf_args)}",
              file=sys.stderr)
        return 2

    def progress(line: str) -> None:
        print(f"ramdisk: {line}", flush=True)

    append = None if args.no_iso else (args.iso_append or build.DEFAULT_ISO_APPEND)
    try:
        build.build(args.output, progress=progress, iso_append=append)
    except BuildError as exc:
        print(f"ingot ramdisk: {exc}", file=sys.stderr)
        return 1
    return 0
