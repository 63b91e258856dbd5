#!/usr/bin/env python3
"""Temp URL fleet benchmark (issue 4): 8 nodes deploy one Glance image from Swift via Squid.

    .venv/bin/python bench/tempurl_fleet.py [--agents 8] [--size-mib 256] [--work-dir DIR]

A real all-in-one Swift (tests/servers/swift.py) holds a random raw image under Glance's
layout: container ``glance``, object = the image id. Two ingot conductors (two
SwiftService objects, each with its own connection to one SQLite database) hand the
nodes their temp URLs, one node per second as deploys arrive, alternating conductors.
Then every node downloads at once through a fresh real Squid, with the agent's code
(bench/fleet.py's agent: download, verify, O_DIRECT write, fsync).

Run twice: with ``[glance] swift_temp_url_cache_enabled`` (every node gets the same URL,
so Squid fetches once: origin bytes / image size 1.00) and without it (a URL per node:
8.00). Origin bytes are counted from Swift's proxy log (bytes sent for the image's
GETs) and checked against Squid's HIER_DIRECT lines. Ends with the config drive build
time for 1 MiB of user_data (bench/configdrive.py).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import pathlib
import statistics
import sys
import time
import uuid

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from bench.agent_download import MiB, make_image, say
from bench.configdrive import build_once, user_data
from bench.fleet import agent
from ingot.db import migrate
from ingot.db.engine import Database
from ingot.swift.service import SwiftService
from tests.servers.squid import Squid
from tests.servers.swift import SwiftServer
from tests.swift.confs import make_conf

AGENT_TIMEOUT = 1800.0


def upload_image(swift: SwiftServer, image: pathlib.Path, image_id: str) -> None:
    connection = swift.connection()
    try:
        connection.put_container("glance")
        with open(image, "rb") as f:
            connection.put_object("glance", image_id, f, content_length=image.stat().st_size,
                                  chunk_size=4 * MiB)
    finally:
        connection.close()


def origin_bytes(swift: SwiftServer, image_id: str) -> tuple[int, int]:
    """(requests, bytes sent) of client GETs of the image in Swift's proxy log."""
    requests = sent = 0
    for line in swift.proxy_log().splitlines():
        fields = line.split()
        # proxy-server: client remote date METHOD path proto status referer agent token
        # bytes_recvd bytes_sent ...; subrequests (client "-") are not origin traffic.
        if (len(fields) > 12 and fields[1] != "-" and fields[4] == "GET"
                and f"/glance/{image_id}" in fields[5]):
            requests += 1
            sent += int(fields[12]) if fields[12].isdigit() else 0
    return requests, sent


def hand_out_urls(services: list[SwiftService], image_id: str, nodes: int,
                  spacing: float) -> list[str]:
    urls = []
    for index in range(nodes):
        if index:
            time.sleep(spacing)  # deploys arrive one after another
        urls.append(services[index % len(services)].glance_image_url(image_id).url)
    return urls


def run_fleet(urls: list[str], digest: str, work: pathlib.Path) -> tuple[float, int, list[str]]:
    """All nodes download at once through a fresh Squid: (wall s, HIER_DIRECT, errors)."""
    context = multiprocessing.get_context("fork")
    targets = [work / f"node{index}.img" for index in range(len(urls))]
    with Squid() as squid:
        go = context.Event()
        results: multiprocessing.Queue[tuple[int, float, str]] = context.Queue()
        processes = [context.Process(target=agent, args=(index, url, digest, squid.url,
                                                         str(targets[index]), go, results))
                     for index, url in enumerate(urls)]
        for process in processes:
            process.start()
        time.sleep(0.5)  # let every process reach the start line
        started = time.time()
        go.set()
        errors = []
        for _ in processes:
            index, at, error = results.get(timeout=AGENT_TIMEOUT)
            say(f"    node {index}: {at - started:6.1f} s  "
                f"{'FAILED ' + error if error else 'verified and fsynced'}")
            if error:
                errors.append(error)
        wall = time.time() - started
        for process in processes:
            process.join(60)
        direct = sum("HIER_DIRECT" in line for line in squid.access_lines("/glance/"))
    for target in targets:
        target.unlink(missing_ok=True)
    return wall, direct, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--spacing", type=float, default=1.0,
                        help="seconds between the nodes' URL requests")
    parser.add_argument("--work-dir", default="/var/tmp/ingot-bench-tempurl")
    args = parser.parse_args()
    work = pathlib.Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    size = args.size_mib * MiB
    digest = make_image(work / "image.raw", size)
    image_id = str(uuid.uuid4())
    failures = 0
    lines = []
    say("starting Swift (the first run installs it, about 30 s) ...")
    with SwiftServer() as swift:
        swift.set_account_key(os.urandom(16).hex())
        say(f"uploading the {args.size_mib} MiB image to {swift.endpoint}/glance/{image_id}")
        upload_image(swift, work / "image.raw", image_id)
        for cache in (True, False):
            label = "cache on" if cache else "cache off"
            db_url = f"sqlite:///{work}/conductors-{int(cache)}.sqlite"
            pathlib.Path(db_url.removeprefix("sqlite:///")).unlink(missing_ok=True)
            conf = make_conf(work, {"swift": swift.swift_options(),
                                    "glance": {"swift_temp_url_cache_enabled": cache}})
            databases = [Database(db_url), Database(db_url)]
            migrate.upgrade(databases[0])
            services = [SwiftService(conf, db) for db in databases]
            say(f"{label}: 2 conductors hand {args.agents} nodes their URLs, "
                f"{args.spacing:g} s apart ...")
            urls = hand_out_urls(services, image_id, args.agents, args.spacing)
            for db in databases:
                db.dispose()
            before_requests, before_bytes = origin_bytes(swift, image_id)
            say(f"{label}: {len(set(urls))} distinct URL(s); {args.agents} nodes download "
                f"through Squid ...")
            wall, direct, errors = run_fleet(urls, digest, work)
            time.sleep(1)  # the proxy logs a GET when its response is complete
            after_requests, after_bytes = origin_bytes(swift, image_id)
            served = after_bytes - before_bytes
            failures += len(errors)
            lines.append(f"{label:9}: origin (Swift) bytes / image size = {served / size:.2f}  "
                         f"({after_requests - before_requests} GET(s) in Swift's proxy log, "
                         f"{direct} HIER_DIRECT line(s) in Squid's, {len(set(urls))} distinct "
                         f"URL(s), {wall:.1f} s, {len(errors)} node(s) failed)")
            say("  " + lines[-1])
    say("config drive build with 1 MiB of user_data ...")
    data = user_data()
    build_once(data)  # warm-up
    times = sorted(build_once(data)[0] for _ in range(7))
    print()
    print(f"{args.agents} nodes, {args.size_mib} MiB Glance image in Swift, through Squid "
          f"(target: 1.00 with the cache, {args.agents}.00 without)")
    for line in lines:
        print(line)
    print(f"config drive build (build_iso + encode, 1 MiB user_data): median "
          f"{statistics.median(times) * 1000:.1f} ms (min {times[0] * 1000:.1f}, "
          f"max {times[-1] * 1000:.1f}, 7 runs)")
    if failures:
        raise SystemExit(1)


if __name__ == "__main__":
    os.environ.setdefault("INGOT_TEST_STRICT", "1")  # a missing Squid is an error here
    main()
