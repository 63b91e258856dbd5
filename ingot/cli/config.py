"""``ingot config sample``: every option with its help, from the registered groups."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("config", help="configuration helpers")
    parser.add_argument("action", choices=["sample"])
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, conf_args: list[str]) -> int:
    from oslo_config import generator  # noqa: PLC0415

    generator.main(["--namespace", "ingot", "--wrap-width", "79"])
    return 0
