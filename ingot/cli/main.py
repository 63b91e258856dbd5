"""``ingot``: the entry point. Each command lives in its own module of ingot.cli with
``add_parser(subparsers)`` and ``run(args, conf_args) -> int``; add new ones to COMMANDS.
A module whose commands read the configuration sets ``READS_CONFIG = True``: they then
take ``--config-file``/``--config-dir``, before or after the command name.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType

# httpx imports its command-line client (httpx._main) with itself, which loads click,
# rich and pygments when they are installed: 4 MB in every ingot process, which never
# uses that client. None in sys.modules makes httpx's import of it fail, and httpx
# then goes without (it catches the ImportError for installs without the extra).
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

COMMANDS = (
    "ingot.cli.services",
    "ingot.cli.db",
    "ingot.cli.config",
    "ingot.cli.agent",
    "ingot.cli.proxy",
    "ingot.cli.configdrive",
    "ingot.cli.demo",
    "ingot.cli.ramdisk",
)


def _config_options(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    group = parser.add_argument_group("configuration (oslo.config)")
    group.add_argument("--config-file", action="append", default=[], metavar="FILE",
                       dest=f"{prefix}config_files",
                       help="an INI file of options; repeatable, later files override "
                            "earlier ones")
    group.add_argument("--config-dir", action="append", default=[], metavar="DIR",
                       dest=f"{prefix}config_dirs",
                       help="a directory whose *.conf files are read after --config-file")


def _parser(modules: list[ModuleType]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ingot", description="Bare-metal provisioning speaking the Bare Metal API v1.")
    # Before the command they are the main parser's, after it the command's; both count.
    _config_options(parser, prefix="global_")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in modules:
        before = set(subparsers.choices)
        module.add_parser(subparsers)
        if getattr(module, "READS_CONFIG", False):
            for name in set(subparsers.choices) - before:
                _config_options(subparsers.choices[name])
    return parser


def _conf_args(args: argparse.Namespace, rest: list[str]) -> list[str]:
    conf_args: list[str] = []
    for files, dirs in ((args.global_config_files, args.global_config_dirs),
                        (getattr(args, "config_files", []), getattr(args, "config_dirs", []))):
        conf_args += [arg for path in files for arg in ("--config-file", path)]
        conf_args += [arg for path in dirs for arg in ("--config-dir", path)]
    return conf_args + rest


def _operator_error(exc: Exception) -> str | None:
    """The one line an operator needs for errors of their setup, None for bugs."""
    from oslo_config import cfg  # noqa: PLC0415 - loaded by every configured command

    from ingot.common.listen import ListenError  # noqa: PLC0415
    from ingot.inspection.settings import BadBuiltInRules  # noqa: PLC0415
    from ingot.swift.errors import SwiftConfigError  # noqa: PLC0415

    if isinstance(exc, ListenError):
        return str(exc)
    if isinstance(exc, (SwiftConfigError, BadBuiltInRules)):
        return f"configuration error: {exc}"
    if isinstance(exc, cfg.ConfigFilesNotFoundError):
        return f"configuration file(s) not found: {', '.join(exc.config_files)}"
    if isinstance(exc, cfg.Error):
        return f"configuration error: {exc}"
    return None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    modules = [importlib.import_module(name) for name in COMMANDS]
    parser = _parser(modules)
    args, rest = parser.parse_known_args(argv)
    if (args.global_config_files or args.global_config_dirs) \
            and not hasattr(args, "config_files"):
        parser.error(f"ingot {args.command} takes no --config-file or --config-dir")
    try:
        result: int = args.run(args, _conf_args(args, rest))
    except Exception as exc:
        message = _operator_error(exc)
        if message is None:
            raise
        print(f"ingot {args.command}: {message}", file=sys.stderr)
        return 1
    return result


if __name__ == "__main__":
    raise SystemExit(main())
