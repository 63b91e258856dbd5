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
    parser.add_argument("--qemu", action="store_true",
                        help="the real thing: build (or reuse) the deploy ramdisk and a "
                             "small OS, deploy the OS onto a QEMU machine that network "
                             "boots, and show what the OS reports from its config drive on "
                             "its first boot (KVM when it works here, else TCG)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, conf_args: list[str]) -> int:
    from ingot.demo.run import demo, service  # noqa: PLC0415 - only this command needs it

    conf = ingot_conf.load(conf_args)
    host = "127.0.0.1" if conf.api.host_ip in ("0.0.0.0", "::") else conf.api.host_ip
    endpoint = f"http://{host}:{conf.api.port}"
    state_path = pathlib.Path(os.path.expanduser(conf.state_path))
    log = state_path / "demo" / "serve.log"
    if args.qemu:
        return _qemu(conf, conf_args, endpoint, state_path, log, args.keep)
    with service(endpoint, conf_args, log) as started:
        return demo(endpoint, state_path, args.size, started, keep=args.keep)


def _qemu(conf: Any, conf_args: list[str], endpoint: str, state_path: pathlib.Path,
          log: pathlib.Path, keep: bool) -> int:
    from ingot.demo import qemu  # noqa: PLC0415 - only this command needs it
    from ingot.demo.run import service  # noqa: PLC0415

    if conf.api.host_ip not in ("127.0.0.1", "0.0.0.0", "::", "localhost"):
        # QEMU's user network shows the machine the host's loopback, nothing else.
        raise SystemExit(f"ingot demo --qemu: [api] host_ip is {conf.api.host_ip}; the "
                         f"QEMU machine reaches ingot only on 127.0.0.1")
    prepared = qemu.prepare()
    extra = qemu.config_file(state_path / "demo" / "qemu.conf", conf.api.port,
                             conf.deploy.http_port, prepared.accel)
    with service(endpoint, [*conf_args, "--config-file", str(extra)], log) as started:
        return qemu.demo(endpoint, state_path, prepared, started, keep=keep)
