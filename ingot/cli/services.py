"""``ingot serve``, ``ingot api`` and ``ingot conductor``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from typing import Any

from ingot import conf as ingot_conf

_HELP = {
    "serve": "API and conductor in one process (the embedded default)",
    "api": "the API alone; conductors take its work from the database",
    "conductor": "a conductor alone",
}


READS_CONFIG = True

def add_parser(subparsers: Any) -> None:
    for name, text in _HELP.items():
        subparsers.add_parser(name, help=text).set_defaults(run=run)


def run(args: argparse.Namespace, conf_args: list[str]) -> int:
    from ingot.cli import runtime  # noqa: PLC0415 - loads the whole service

    conf = ingot_conf.load(conf_args)
    runtime.setup_logging(conf)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(runtime.serve(conf, api=args.command in ("serve", "api"),
                                  conductor=args.command in ("serve", "conductor")))
    return 0
