#!/usr/bin/env python3
"""Bare Metal API benchmark, run against ingot and Ironic side by side.

    bench/api.py                         # starts ingot and a real Ironic, measures both
    bench/api.py --endpoint URL [...]    # measures running services (any Ironic API)

For each endpoint, at concurrency 8: node creation rate; GET /v1/nodes/{id} and
GET /v1/nodes?limit=50 throughput with p50/p99 (driven by wrk, so the client is not
the bottleneck on this 2-core machine); the time to take 100 fake-hardware nodes
from enroll to active; and the resident memory of the server when the benchmark
started it. Only the standard Bare Metal API is used, so any Ironic can be measured.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from bench.sites import started_ingot, started_ironic

HEADERS = {"X-OpenStack-Ironic-API-Version": "1.73", "Content-Type": "application/json"}


@dataclasses.dataclass
class Result:
    name: str
    creates_per_s: float = 0.0
    get_rps: float = 0.0
    get_p50_ms: float = 0.0
    get_p99_ms: float = 0.0
    list_rps: float = 0.0
    list_p50_ms: float = 0.0
    list_p99_ms: float = 0.0
    deploy_100_s: float = 0.0
    rss_mb: float | None = None


def progress(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


async def create_nodes(url: str, count: int, concurrency: int, tag: str) -> tuple[list[str], float]:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)
    created: list[str] = []

    async def worker(client: httpx.AsyncClient) -> None:
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            body = {"driver": "fake-hardware", "name": f"{tag}-{i}", "resource_class": tag}
            response = await client.post("/v1/nodes", json=body)
            response.raise_for_status()
            created.append(response.json()["uuid"])
            if len(created) % 250 == 0:
                progress(f"created {len(created)}/{count}")

    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, headers=HEADERS, timeout=120) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return created, time.perf_counter() - started


def wrk(url: str, seconds: int, concurrency: int) -> tuple[float, float, float]:
    """Requests/s, p50 ms, p99 ms of GET url."""
    output = subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "--latency",
         "-H", f"X-OpenStack-Ironic-API-Version: {HEADERS['X-OpenStack-Ironic-API-Version']}",
         url], capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    if "Non-2xx" in output:
        raise RuntimeError(f"wrk saw errors against {url}:\n{output}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]

    def percentile(label: str) -> float:
        match = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)", output)
        assert match, output
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    return rps, percentile("50"), percentile("99")


async def list_all(client: httpx.AsyncClient, tag: str, fields: str) -> list[dict[str, Any]]:
    """Every node of the run, page by page (a page holds at most [api] max_limit)."""
    found: list[dict[str, Any]] = []
    params = {"fields": fields, "resource_class": tag, "limit": "1000"}
    while True:
        page = (await client.get("/v1/nodes", params=params)).raise_for_status().json()
        found += page["nodes"]
        if not page["nodes"] or "next" not in page:
            return found
        params["marker"] = page["nodes"][-1]["uuid"]


async def deploy_all(url: str, uuids: list[str], concurrency: int, tag: str) -> float:
    """Seconds to take uuids from enroll through manageable and available to active."""
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, headers=HEADERS, timeout=120) as client:
        for verb, state in (("manage", "manageable"), ("provide", "available"),
                            ("active", "active")):
            semaphore = asyncio.Semaphore(concurrency)

            async def request(node: str, verb: str = verb,
                              semaphore: asyncio.Semaphore = semaphore) -> None:
                async with semaphore:
                    for _attempt in range(100):
                        response = await client.put(f"/v1/nodes/{node}/states/provision",
                                                    json={"target": verb})
                        if response.status_code != 409:  # locked: retry shortly
                            response.raise_for_status()
                            return
                        await asyncio.sleep(0.05)
                    raise RuntimeError(f"{node} stayed locked")

            await asyncio.gather(*(request(node) for node in uuids))
            wanted = set(uuids)
            deadline = time.monotonic() + 600
            while True:
                listing = await list_all(client, tag, "uuid,provision_state,last_error")
                states = {n["uuid"]: n for n in listing if n["uuid"] in wanted}
                done = sum(1 for n in states.values() if n["provision_state"] == state)
                failed = [n for n in states.values() if "fail" in n["provision_state"]]
                if failed:
                    raise RuntimeError(f"nodes failed during {verb}: {failed[:3]}")
                if done == len(wanted):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{verb}: only {done}/{len(wanted)} reached {state}")
                await asyncio.sleep(0.1)
            progress(f"{len(uuids)} nodes {state} after {time.perf_counter() - started:.2f} s")
    return time.perf_counter() - started


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def measure(name: str, url: str, pid: int | None, args: argparse.Namespace) -> Result:
    print(f"== {name} at {url}", file=sys.stderr, flush=True)
    result = Result(name)
    tag = f"bench{uuid.uuid4().hex[:6]}"
    uuids, seconds = asyncio.run(create_nodes(url, args.nodes, args.concurrency, tag))
    result.creates_per_s = len(uuids) / seconds
    progress(f"{result.creates_per_s:.0f} creates/s")
    result.get_rps, result.get_p50_ms, result.get_p99_ms = wrk(
        f"{url}/v1/nodes/{uuids[len(uuids) // 2]}", args.seconds, args.concurrency)
    progress(f"node GET {result.get_rps:.0f} req/s")
    result.list_rps, result.list_p50_ms, result.list_p99_ms = wrk(
        f"{url}/v1/nodes?limit=50", args.seconds, args.concurrency)
    progress(f"50-node list {result.list_rps:.0f} req/s")
    fresh, _ = asyncio.run(create_nodes(url, 100, args.concurrency, tag + "d"))
    result.deploy_100_s = asyncio.run(deploy_all(url, fresh, args.concurrency, tag + "d"))
    if pid is not None:
        result.rss_mb = rss_mb(pid)
    return result


def report(results: list[Result]) -> None:
    rows: list[tuple[str, str | None, str]] = [
        ("node creation (creates/s)", "creates_per_s", "{:.0f}"),
        ("GET /v1/nodes/{id} (req/s)", "get_rps", "{:.0f}"),
        ("  p50 / p99 (ms)", None, ""),
        ("GET /v1/nodes?limit=50 (req/s)", "list_rps", "{:.0f}"),
        ("  p50 / p99 (ms) ", None, ""),
        ("100 nodes enroll->active (s)", "deploy_100_s", "{:.2f}"),
        ("server RSS after the run (MB)", "rss_mb", "{:.0f}"),
    ]
    width = 32
    print("\n" + "".ljust(width) + "".join(r.name.rjust(16) for r in results)
          + ("    ratio" if len(results) == 2 else ""))
    for label, attr, fmt in rows:
        if attr is None:
            kind = "get" if "ms) " not in label else "list"
            cells = [f"{getattr(r, kind + '_p50_ms'):.1f} / {getattr(r, kind + '_p99_ms'):.1f}"
                     for r in results]
            print(label.ljust(width) + "".join(c.rjust(16) for c in cells))
            continue
        values = [getattr(r, attr) for r in results]
        cells = ["-" if v is None else fmt.format(v) for v in values]
        line = label.ljust(width) + "".join(c.rjust(16) for c in cells)
        if len(results) == 2 and None not in values and values[1]:
            ratio = values[0] / values[1] if attr != "deploy_100_s" else values[1] / values[0]
            line += f"   {ratio:5.1f}x" if attr != "rss_mb" else ""
        print(line)


@contextlib.contextmanager
def targets(args: argparse.Namespace, workdir: pathlib.Path
            ) -> Iterator[list[tuple[str, str, int | None]]]:
    if args.endpoint:
        yield [(url, url, None) for url in args.endpoint]
        return
    with contextlib.ExitStack() as stack:
        found: list[tuple[str, str, int | None]] = [
            ("ingot", *stack.enter_context(started_ingot(workdir / "ingot")))]
        if not args.no_ironic:
            progress("starting Ironic (first run installs it into ~/.cache/ingot-bench)")
            found.append(("ironic", *stack.enter_context(started_ironic(workdir / "ironic"))))
        yield found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", action="append",
                        help="measure this running service (repeat for side by side)")
    parser.add_argument("--nodes", type=int, default=1000, help="nodes to create first")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=10, help="length of each GET run")
    parser.add_argument("--no-ironic", action="store_true",
                        help="without --endpoint: measure ingot only")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed (Debian package wrk): apt-get install wrk")
    with tempfile.TemporaryDirectory(prefix="ingot-bench-") as tmp, \
            targets(args, pathlib.Path(tmp)) as found:
        results = [measure(name, url, pid, args) for name, url, pid in found]
    report(results)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    raise SystemExit(main())
