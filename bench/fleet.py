#!/usr/bin/env python3
"""Fleet benchmark (issue 3): 8 agents deploy one image through a real Squid at once.

    .venv/bin/python bench/fleet.py [--agents 8] [--size-mib 512] [--work-dir DIR]

Each agent is a process running ingot's download/writer code (verify, write with
O_DIRECT, fsync) onto its own target file, through Squid as ``image_info['proxies']``
would send it. The origin is a private nginx whose access log counts body bytes. The
result is origin bytes / image size (target 1.00: the origin serves the image once,
thanks to collapsed forwarding) and the wall time from the common start to the last
verified write.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import pathlib
import sys
import time
from multiprocessing.synchronize import Event

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from bench.agent_download import MiB, Nginx, make_image, say
from ingot.agent.writer import ImageDownload, WriteOptions, write_image
from ingot.images.checksum import ExpectedDigest
from ingot.images.proxies import ProxyPolicy
from tests.servers.squid import Squid


def agent(index: int, url: str, digest: str, proxy: str, target: str, go: Event,
          results: multiprocessing.Queue[tuple[int, float, str]]) -> None:
    source = ImageDownload([url], ExpectedDigest("sha256", digest, "bench"), "raw",
                         ProxyPolicy(http=proxy))
    # Smaller buffers than one agent alone: eight of them share this machine's memory.
    options = WriteOptions(buffer_bytes=2 * MiB, buffers=8)
    go.wait()
    try:
        write_image(target, source, options)
        results.put((index, time.time(), ""))
    except Exception as exc:
        results.put((index, time.time(), f"{type(exc).__name__}: {exc}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--work-dir", default="/var/tmp/ingot-bench-fleet")
    args = parser.parse_args()
    work = pathlib.Path(args.work_dir)
    (work / "www").mkdir(parents=True, exist_ok=True)
    size = args.size_mib * MiB
    digest = make_image(work / "www" / "fleet.raw", size)
    targets = [work / f"node{index}.img" for index in range(args.agents)]
    context = multiprocessing.get_context("fork")
    with Nginx(work / "www", work / "nginx") as origin, Squid() as squid:
        # A query string like a Swift temp URL's: Squid must cache it all the same.
        url = f"{origin.url}/fleet.raw?temp_url_sig=0123abcd&temp_url_expires=4102444800"
        say(f"{args.agents} agents, {args.size_mib} MiB image, origin {origin.url}, "
            f"squid {squid.url}")
        for target in targets:
            target.unlink(missing_ok=True)
        go = context.Event()
        results: multiprocessing.Queue[tuple[int, float, str]] = context.Queue()
        processes = [context.Process(target=agent, args=(index, url, digest, squid.url,
                                                         str(targets[index]), go, results))
                     for index in range(args.agents)]
        for process in processes:
            process.start()
        time.sleep(0.5)  # let every process import and reach the start line
        started = time.time()
        go.set()
        finished = []
        for _ in processes:
            index, at, error = results.get(timeout=1800)
            finished.append((index, at - started, error))
            state = "FAILED " + error if error else "verified and fsynced"
            say(f"  agent {index}: {at - started:6.1f} s  {state}")
        for process in processes:
            process.join(60)
        wall = max(seconds for _, seconds, _ in finished)
        requests = origin.requests("/fleet.raw")
        served = sum(size for _, size in requests)
        lines = squid.access_lines("/fleet.raw")
        direct = sum("HIER_DIRECT" in line for line in lines)
        if os.environ.get("FLEET_DEBUG"):
            print("\n".join(lines))
            print((work / "nginx" / "nginx-access.log").read_text())
    for target in targets:
        target.unlink(missing_ok=True)
    failures = [error for _, _, error in finished if error]
    print()
    statuses = ", ".join(str(status) for status, _ in requests)
    print(f"origin bytes / image size: {served / size:.2f}  (target 1.00; {served} bytes "
          f"in {len(requests)} origin request(s): {statuses}; {direct} HIER_DIRECT "
          f"line(s) in Squid's log)")
    print(f"wall time: {wall:.1f} s for {args.agents} x {args.size_mib} MiB "
          f"({args.agents * size / MiB / wall:.0f} MiB/s delivered in total)")
    print(f"agents failed: {len(failures)}")
    if failures:
        raise SystemExit(1)


if __name__ == "__main__":
    os.environ.setdefault("INGOT_TEST_STRICT", "1")  # a missing Squid is an error here
    main()
