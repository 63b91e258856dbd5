"""``ingot agent``: the provisioning agent (ironic-python-agent's protocol) for one
target disk or disk image file.

Booted from ingot's ramdisk, ``--kernel-cmdline /proc/cmdline`` takes the settings from
the kernel command line as ironic-python-agent does (``ipa-api-url``, ``BOOTIF``,
``ipa-advertise-host``/``-port``...), the MACs from the machine's network cards and the
target disk from the node's root device hints.

A conductor that generated the agent token itself (as Ironic does for virtual media)
hands it over in the environment variable INGOT_AGENT_TOKEN, never on the command line
where other users could read it.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from ingot.common import redaction

TOKEN_VARIABLE = "INGOT_AGENT_TOKEN"


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def _positive(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {value!r}") \
            from None
    if not number > 0:  # also refuses NaN
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {value!r}")
    return number


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "agent", help="the provisioning agent: looks its node up, serves the command API, "
                      "writes images onto --target")
    _add_arguments(parser)
    parser.set_defaults(run=run)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kernel-cmdline", metavar="FILE",
                        help="take the settings from this kernel command line (in the "
                             "ramdisk: /proc/cmdline) and this machine's NICs and disks")
    parser.add_argument("--api-url", help="Bare Metal API endpoint")
    parser.add_argument("--mac", action="append", default=[], dest="macs",
                        help="a MAC address of this machine (repeatable)")
    parser.add_argument("--node-uuid", help="look up by node UUID as well")
    parser.add_argument("--target",
                        help="the disk (block device) or disk image file to write to")
    parser.add_argument("--listen", type=_listen, default=("127.0.0.1", 9999),
                        metavar="HOST:PORT", help="command API address (port 0: any free)")
    parser.add_argument("--advertise-url",
                        help="callback URL sent in heartbeats (default: from --listen)")
    parser.add_argument("--heartbeat-interval", type=_positive,
                        help="longest time between heartbeats, in seconds (default: from "
                             "the API's heartbeat_timeout)")
    parser.add_argument("--work-dir",
                        help="where non-raw images are downloaded before conversion "
                             "(default: the target's directory for files, else /var/tmp)")
    parser.add_argument("--lookup-timeout", type=float, default=300.0,
                        help="give up if the node is not found in this many seconds")
    parser.add_argument("--download-attempts", type=int, default=5,
                        help="attempts per image URL that make no progress")
    parser.add_argument("--retry-interval", type=float, default=1.0,
                        help="first delay between download attempts (doubles each time)")
    parser.add_argument("--connect-timeout", type=float, default=10.0)
    parser.add_argument("--read-timeout", type=float, default=60.0)
    parser.add_argument("--no-tls", dest="auto_tls", action="store_false",
                        help="serve the command API over plain http (default: https with "
                             "a self-signed certificate whose CA goes in heartbeats, as "
                             "ironic-python-agent's auto TLS)")
    parser.add_argument("--inspection-callback-url",
                        help="post the machine's inventory here before the lookup "
                             "(ironic-python-agent's inspection_callback_url)")
    parser.add_argument("--debug", action="store_true")
    parser.set_defaults(bootif=None)  # from the kernel command line's BOOTIF


def main(argv: list[str] | None = None) -> int:
    """``python -m ingot.cli.agent``: the agent alone, importing nothing of the server side
    (the ramdisk carries only what the agent needs)."""
    parser = argparse.ArgumentParser(prog="ingot-agent")
    _add_arguments(parser)
    return run(parser.parse_args(argv), [])


def _from_kernel_cmdline(args: argparse.Namespace) -> str | None:
    """Fill args from the kernel command line and the machine; an error message or None."""
    from ingot.agent import kernel_cmdline, nics  # noqa: PLC0415 - agent-only imports

    try:
        with open(args.kernel_cmdline) as source:
            found = kernel_cmdline.settings(source.read())
    except (OSError, kernel_cmdline.KernelCmdlineError) as exc:
        return str(exc)
    args.api_url = args.api_url or found.api_url
    args.inspection_callback_url = args.inspection_callback_url or \
        found.inspection_callback_url
    args.bootif = found.bootif
    args.debug = args.debug or found.debug
    if found.lookup_timeout is not None:
        args.lookup_timeout = found.lookup_timeout
    cards = nics.physical_nics()
    args.macs = args.macs or [nic.mac for nic in cards]
    if not args.macs:
        return "no network card found to look this machine up by"
    host = found.advertise_host
    if host is None:
        # The booting NIC's address first, then any NIC's.
        ordered = sorted(cards, key=lambda nic: nic.mac != found.bootif)
        host = next(filter(None, (nics.ipv4_address(nic.name) for nic in ordered)), None)
    if host is None and not args.advertise_url:
        return "no network card has an IPv4 address to advertise"
    args.listen = ("0.0.0.0", found.listen_port)
    if not args.advertise_url:
        args.advertise_url = f"http://{host}:{found.advertise_port or found.listen_port}"
    return None


def run(args: argparse.Namespace, conf_args: list[str]) -> int:
    from ingot.agent import download, service, standby  # noqa: PLC0415 - agent-only imports

    if conf_args:
        print(f"ingot agent: unrecognized arguments: {' '.join(conf_args)}", file=sys.stderr)
        return 2
    if args.kernel_cmdline:
        problem = _from_kernel_cmdline(args)
        if problem:
            print(f"ingot agent: {problem}", file=sys.stderr)
            return 2
    elif not args.api_url or not args.target:
        print("ingot agent: give --api-url and --target, or --kernel-cmdline",
              file=sys.stderr)
        return 2
    if not args.macs and not args.node_uuid:
        print("ingot agent: give at least one --mac or --node-uuid", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    redaction.install()
    # These log request URLs, which may carry signatures.
    for noisy in ("httpx", "httpcore", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    host, port = args.listen
    settings = service.AgentSettings(
        api_url=args.api_url, target=args.target, macs=tuple(args.macs),
        node_uuid=args.node_uuid, listen_host=host, listen_port=port,
        advertise_url=args.advertise_url, heartbeat_interval=args.heartbeat_interval,
        lookup_timeout=args.lookup_timeout, auto_tls=args.auto_tls,
        preset_token=os.environ.get(TOKEN_VARIABLE) or None,
        inspection_callback_url=args.inspection_callback_url,
        bootif=args.bootif,
        download=standby.DownloadSettings(
            retry=download.RetryPolicy(attempts=args.download_attempts,
                                       initial_delay=args.retry_interval),
            timeouts=download.Timeouts(connect=args.connect_timeout,
                                       read=args.read_timeout),
            work_dir=args.work_dir))
    return service.run(settings)


if __name__ == "__main__":
    raise SystemExit(main())
