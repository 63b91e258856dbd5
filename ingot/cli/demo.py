"""``ingot demo``: deploy a generated image onto a virtual node, on embedded defaults."""

from __future__ import annotations

import argparse
import os
import pathlib
from typing import Any

from ingot import conf as ingot_conf

READS_CONFIG = True

def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo", help="deploy a generated bootable image onto a local-vm node and show it")
    parser.add_argument("--size", type=int, default=256, metavar="MIB",
                        help="size of the generated image (default 256 MiB)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the node and its disk file (by default the demo removes "
                             "them at the end)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, conf_args: list[str]) -> int:
    from ingot.demo.run import demo, service  # noqa: PLC0415 - only this command needs it

    conf = ingot_conf.load(conf_args)
    host = "127.0.0.1" if conf.api.host_ip in ("0.0.0.0", "::") else conf.api.host_ip
    endpoint = f"http://{host}:{conf.api.port}"
    state_path = pathlib.Path(os.path.expanduser(conf.state_path))
    with service(endpoint, conf_args, state_path / "demo" / "serve.log") as started:
        return demo(endpoint, state_path, args.size, started, keep=args.keep)
