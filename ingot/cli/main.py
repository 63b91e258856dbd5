"""``ingot``: the entry point. Each command lives in its own module of ingot.cli with
``add_parser(subparsers)`` and ``run(args, conf_args) -> int``; add new ones to COMMANDS.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType

COMMANDS = (
    "ingot.cli.services",
    "ingot.cli.db",
    "ingot.cli.config",
    "ingot.cli.agent",
    "ingot.cli.proxy",
    "ingot.cli.configdrive",
    "ingot.cli.demo",
)


def _parser(modules: list[ModuleType]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ingot", description="Bare-metal provisioning speaking the Bare Metal API v1.",
        epilog="Options not listed here (--config-file, --config-dir) are read by "
               "oslo.config.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in modules:
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    modules = [importlib.import_module(name) for name in COMMANDS]
    args, rest = _parser(modules).parse_known_args(argv)
    result: int = args.run(args, rest)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
