"""``ingot configdrive build``: the gzip+base64 config drive a client puts in a deploy.

What Nova's Ironic driver (and ``baremetal node deploy --config-drive``) does on the client
side: build the ISO, gzip it, base64 it, print it.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("configdrive", help="config drive tools")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    build = actions.add_parser(
        "build", help="print the gzip+base64 config drive for a deploy request",
        description="Build a config-2 ISO (openstack/latest and openstack/2012-08-10) and "
                    "print it gzip-compressed and base64-encoded on one line.")
    build.add_argument("--meta-data", metavar="FILE", required=True,
                       help="meta_data.json: a JSON object")
    build.add_argument("--user-data", metavar="FILE",
                       help="user_data, written as it is (cloud-config, a script, ...)")
    build.add_argument("--network-data", metavar="FILE",
                       help="network_data.json: a JSON object")
    build.add_argument("--vendor-data", metavar="FILE",
                       help="vendor_data2.json: a JSON object")
    build.add_argument("--node-uuid", metavar="UUID",
                       help="meta_data uuid unless the file has one")
    build.add_argument("--node-name", metavar="NAME",
                       help="meta_data name unless the file has one")
    build.set_defaults(run=run)


def run(args: argparse.Namespace, conf_args: list[str]) -> int:
    from ingot.configdrive import build  # noqa: PLC0415 - pycdlib only for this command
    from ingot.configdrive.errors import ConfigDriveError  # noqa: PLC0415 - same

    if conf_args:
        # parse_known_args leaves unknown options here; a mistyped one must not be ignored.
        print(f"ingot configdrive build: unknown arguments: {' '.join(conf_args)}",
              file=sys.stderr)
        return 2
    try:
        meta_data = _json_object(args.meta_data, "--meta-data")
        network_data = _json_object(args.network_data, "--network-data")
        vendor_data = _json_object(args.vendor_data, "--vendor-data")
        user_data = _read(args.user_data, "--user-data") if args.user_data else None
        assert meta_data is not None  # required by the parser
        node_uuid = args.node_uuid or meta_data.get("uuid")
        if not node_uuid:
            raise _UsageError("the meta data has no uuid (cloud-init needs one as its "
                              "instance id); give --node-uuid")
        iso = build.build_iso(meta_data=meta_data, user_data=user_data,
                              network_data=network_data, vendor_data=vendor_data,
                              node_uuid=str(node_uuid), node_name=args.node_name)
    except (_UsageError, ConfigDriveError) as exc:
        print(f"ingot configdrive build: {exc}", file=sys.stderr)
        return 1
    print(build.encode(iso))
    return 0


class _UsageError(Exception):
    pass


def _read(path: str, option: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as exc:
        raise _UsageError(f"{option}: {exc.strerror}: {path}") from None


def _json_object(path: str | None, option: str) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        value = json.loads(_read(path, option))
    except ValueError as exc:
        raise _UsageError(f"{option} {path} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise _UsageError(f"{option} {path} must hold a JSON object")
    return value
