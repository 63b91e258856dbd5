"""``ingot db upgrade|version``."""

from __future__ import annotations

import argparse
from typing import Any

from ingot import conf as ingot_conf

READS_CONFIG = True

def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("db", help="create, upgrade or show the database schema")
    parser.add_argument("action", choices=["upgrade", "version"])
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, conf_args: list[str]) -> int:
    from ingot.cli import runtime  # noqa: PLC0415
    from ingot.db import migrate  # noqa: PLC0415

    conf = ingot_conf.load(conf_args)
    runtime.setup_logging(conf)
    db = runtime.open_database(conf, upgrade=args.action == "upgrade")
    print(f"schema revision: {migrate.current_revision(db)} "
          f"(newest: {migrate.head_revision()})")
    db.dispose()
    return 0
