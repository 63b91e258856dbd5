"""``ingot proxy``: one Bare Metal API in front of many ingot and Ironic sites."""

from __future__ import annotations

import argparse
import sys
from typing import Any

READS_CONFIG = True

def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "proxy", help="one Bare Metal API in front of many ingot and Ironic sites "
                      "(reads ironic-proxy's configuration)")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes (each with its own caches); default 1")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, conf_args: list[str]) -> int:
    from oslo_config import cfg  # noqa: PLC0415 - keeps `ingot --help` light

    from ingot.proxy import config, server  # noqa: PLC0415 - loads keystoneauth1

    try:
        loaded = config.load(conf_args)
    except (config.ConfigError, cfg.Error) as exc:
        print(f"ingot proxy: configuration error: {exc}", file=sys.stderr)
        return 2
    server.setup_logging(loaded.settings.debug)
    server.run(loaded, conf_args, max(1, args.workers))
    return 0
