#!/usr/bin/env python3
"""How much memory `ingot serve` holds with 100k nodes, after serving them.

    bench/serve_rss.py [--nodes 100000] [--seconds 3] [--ironic]

One SQLite database gets --nodes nodes (rows written straight into the table, as
bench/list_scale.py fills it); a fresh `ingot serve` on it is then driven by wrk
(concurrency 8) through node GETs, 50-node pages (first, by marker, sorted by name,
/detail) and 1000-node pages, and walked once from end to end by marker in
1000-node pages. Its RSS (VmRSS, and the peak VmHWM) is read after start and after
each load, summed over the server's session (any process it forked), and its PSS
(forked workers share pages, which RSS counts once per process). Target: under 100 MB.

With --ironic, a real Ironic 39 all-in-one (SQLite, as tests/servers/ironic.py
starts it) gets the same number of nodes (copied in its table) and the same load,
and its RSS is printed beside ingot's.
"""

from __future__ import annotations

import argparse
import pathlib
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import httpx

from bench.list_scale import VERSION, _copy_ironic_nodes, _ironic_uuid, grow, progress, wrk
from ingot.db import migrate
from ingot.db.engine import Database
from tests.servers.ingot import IngotServer

TARGET_MB = 100.0


def session_kb(pid: int, field: str, source: str = "status") -> int:
    """A /proc/<pid>/<source> field (kB) summed over pid and every process of its session
    (the tests start each server in a session of its own)."""
    total = 0
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            sid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[3])
            if int(entry.name) != pid and sid != pid:
                continue
            for line in (entry / source).read_text().splitlines():
                if line.startswith(f"{field}:"):
                    total += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            continue  # ended meanwhile
    return total


def walk(url: str, limit: int) -> int:
    """Every node once, by marker, in pages of limit: the largest answers a client asks."""
    seen, marker = 0, ""
    with httpx.Client(base_url=url, headers={"X-OpenStack-Ironic-API-Version": VERSION},
                      timeout=120) as client:
        while True:
            query = f"/v1/nodes?limit={limit}" + (f"&marker={marker}" if marker else "")
            page = client.get(query).raise_for_status().json()["nodes"]
            seen += len(page)
            if len(page) < limit:
                return seen
            marker = page[-1]["uuid"]


Readings = list[tuple[str, float, float, float]]


def load(url: str, pid: int, middle: str, nodes: int, seconds: int) -> Readings:
    """RSS and peak (MB) after start and after each step of the load."""
    def reading(label: str) -> tuple[str, float, float, float]:
        rss, peak = session_kb(pid, "VmRSS") / 1024, session_kb(pid, "VmHWM") / 1024
        pss = session_kb(pid, "Pss", "smaps_rollup") / 1024
        progress(f"{label}: RSS {rss:.1f} MB, peak {peak:.1f} MB, PSS {pss:.1f} MB")
        return label, rss, peak, pss

    steps: dict[str, Callable[[], object]] = {
        "node GET": lambda: wrk(f"{url}/v1/nodes/{middle}", seconds, pid),
        "50-node pages": lambda: [wrk(url + path, seconds, pid) for path in (
            "/v1/nodes?limit=50", f"/v1/nodes?limit=50&marker={middle}",
            "/v1/nodes?limit=50&sort_key=name",
            f"/v1/nodes/detail?limit=50&marker={middle}")],
        "1000-node pages": lambda: wrk(f"{url}/v1/nodes?limit=1000&marker={middle}",
                                       seconds, pid),
        "walk of every node": lambda: _walked(walk(url, 1000), nodes),
    }
    readings = [reading("after start")]
    for label, step in steps.items():
        step()
        readings.append(reading(f"after {label}"))
    return readings


def _walked(seen: int, nodes: int) -> None:
    if seen != nodes:
        raise RuntimeError(f"the walk saw {seen} nodes, expected {nodes}")


def measure_ingot(nodes: int, seconds: int, workdir: pathlib.Path) -> Readings:
    url = f"sqlite:///{workdir}/ingot.sqlite"
    db = Database(url)
    migrate.upgrade(db)
    progress(f"ingot: writing {nodes} nodes")
    grow(db, nodes)
    db.dispose()
    server = IngotServer(workdir / "serve", db_url=url, host="bench").start()
    assert server.process is not None
    try:
        return load(server.url, server.process.pid, str(uuid.UUID(int=nodes // 2 + 1)),
                    nodes, seconds)
    finally:
        server.stop()


def measure_ironic(nodes: int, seconds: int, workdir: pathlib.Path) -> Readings:
    from tests.servers.ironic import IronicServer  # noqa: PLC0415 - needs the ironic venv

    server = IronicServer(workdir / "ironic").start()
    try:
        with server.client(VERSION) as client:
            client.post("/v1/nodes", json={"driver": "fake-hardware", "name": "template",
                                           "properties": {"cpus": 64}}).raise_for_status()
        progress(f"ironic: copying {nodes} nodes")
        _copy_ironic_nodes(workdir / "ironic" / "ironic.sqlite", 1, nodes)
        return load(server.url, server.pid, _ironic_uuid(nodes // 2), nodes, seconds)
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=3, help="length of each wrk run")
    parser.add_argument("--ironic", action="store_true",
                        help="measure a real Ironic 39 at the same size too")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed (Debian package wrk): apt-get install wrk")
    with tempfile.TemporaryDirectory(prefix="ingot-rss-") as tmp:
        workdir = pathlib.Path(tmp)
        ours = measure_ingot(args.nodes, args.seconds, workdir)
        theirs = measure_ironic(args.nodes, args.seconds, workdir) if args.ironic else None
    print(f"\nRSS of the server's processes with {args.nodes} nodes (MB; peak = VmHWM)")
    header = f"{'':28}{'ingot RSS':>11}{'peak':>8}{'PSS':>8}"
    print(header + (f"{'ironic RSS':>12}{'peak':>8}{'PSS':>8}" if theirs else ""))
    for i, (label, rss, peak, pss) in enumerate(ours):
        line = f"{label:28}{rss:11.1f}{peak:8.1f}{pss:8.1f}"
        if theirs:
            line += f"{theirs[i][1]:12.1f}{theirs[i][2]:8.1f}{theirs[i][3]:8.1f}"
        print(line)
    peak = max(reading[2] for reading in ours)
    print(f"target: under {TARGET_MB:.0f} MB; ingot's peak {peak:.1f} MB: "
          f"{'within' if peak < TARGET_MB else 'OVER'} target")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
