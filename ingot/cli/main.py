"""``ingot``: serve, api, conductor, db upgrade, config sample."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from ingot import conf as ingot_conf


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ingot", description="Bare-metal provisioning speaking the Bare Metal API v1.",
        epilog="Options not listed here (--config-file, --config-dir) are read by "
               "oslo.config.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("serve", help="API and conductor in one process (the default setup)")
    commands.add_parser("api", help="the API alone")
    commands.add_parser("conductor", help="a conductor alone")
    db = commands.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade", "version"])
    config = commands.add_parser("config", help="configuration")
    config.add_argument("action", choices=["sample"])
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args, rest = _parser().parse_known_args(argv)
    if args.command == "config":
        return _config_sample()
    conf = ingot_conf.load(rest)
    from ingot.cli import runtime  # noqa: PLC0415 - keeps `ingot config sample` light

    runtime.setup_logging(conf)
    if args.command == "db":
        db = runtime.open_database(conf, upgrade=args.action == "upgrade")
        from ingot.db import migrate  # noqa: PLC0415

        print(f"schema revision: {migrate.current_revision(db)} (newest: "
              f"{migrate.head_revision()})")
        return 0
    api = args.command in ("serve", "api")
    conductor = args.command in ("serve", "conductor")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(runtime.serve(conf, api=api, conductor=conductor))
    return 0


def _config_sample() -> int:
    from oslo_config import generator  # noqa: PLC0415

    generator.main(["--namespace", "ingot", "--wrap-width", "79"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
