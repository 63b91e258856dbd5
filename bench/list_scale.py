#!/usr/bin/env python3
"""Does a node page cost the same at 1k and 100k nodes? And against Ironic 39?

    bench/list_scale.py [--backend sqlite --backend postgresql] [--sizes 1000,100000]
                        [--ironic-sizes 1000,10000] [--seconds 2] [--rounds 2] [--quick]
                        [--rows description,first page]

For each backend and each of --sizes, a database of that many nodes (rows written
straight into the table: sort columns spread as in a real fleet, 1 in 50 NULL; each
filter's value held by 150 nodes spread over the ids at every size, so its first page is
full at 1k and a seek at 100k); a fresh `ingot serve` on it is driven by wrk
(concurrency 8) through: node GET, the first 50-node page, a page by marker, /detail,
every documented sort key (its first page ascending, a page by marker descending), every
documented filter and a chassis's nodes, each path at every size in turn, --rounds
times, the best kept. It prints req/s at each size and the ratio of the largest to the
smallest (target >= 0.8). --rows measures only the rows whose label holds one of the
given texts (--rows description: the description sort and filter).

Then a real Ironic 39 all-in-one (SQLite, as tests/servers/ironic.py starts it) gets
the same number of nodes at each --ironic-sizes (one created through its API, copied
in its table) and node GET and the 50-node list are measured beside ingot's figures
at the same size (targets: GET >= 30x, list >= 20x).

Each `ingot serve` runs its conductor at the options' defaults (poll_interval 1 s,
heartbeat_interval 10 s), as an operator would have it, not the tests' fast polling.
CPU per request is printed gross (everything the server's processes used while wrk
ran, divided by the requests) and net of idle: each server's idle CPU rate (its
conductor's polling, Ironic's periodic tasks) is measured for IDLE_SECONDS before the
load, and that rate times the run's wall time is taken off. The targets are judged on
the gross figure; the net one shows what the requests themselves cost.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pathlib
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from ingot.db import migrate
from ingot.db import nodes as node_queries
from ingot.db.engine import Database
from ingot.db.models import chassis, nodes, utcnow
from tests.servers.ingot import IngotServer
from tests.servers.postgres import temporary_database

VERSION = "1.73"
IDLE_SECONDS = 3
# ingot's defaults (ingot/conf/conductor.py); the test servers poll five times as often.
OPERATOR_CONDUCTOR = {"poll_interval": 1.0, "heartbeat_interval": 10.0}
# Filters newer than VERSION are asked for at the version of the newest (instance_name).
NEWER_FILTERS = {"shard", "sharded", "parent_node", "include_children", "instance_name"}
LATEST = "1.104"
# Each filter's value is held by MARKED nodes spread evenly over the ids, at every size:
# its first page is full (50) at 1k and at 100k alike, and a seek at 100k (1 in 666).
MARKED = 150
RARE = "rare"
PARENT = str(uuid.UUID(int=2))  # the parent of the marked children
CHASSIS = "00000000-0000-4000-8000-0000000c4a55"
FILTERS = {
    "driver": "fake-hardware", "provision_state": "manageable", "maintenance": "true",
    "associated": "false", "retired": "true", "conductor_group": RARE,
    "resource_class": RARE, "owner": RARE, "lessee": RARE, "project": RARE,
    "fault": "power failure", "conductor": RARE, "shard": RARE, "sharded": "true",
    "parent_node": PARENT, "instance_name": RARE, "description_contains": RARE,
}


def progress(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


def _value(i: int) -> str | None:
    return None if i % 50 == 0 else f"v{i % 100}"


def _row(i: int, step: int, children: bool) -> dict[str, Any]:
    """Node i of a fleet where 1 node in step holds the filters' values, 1 in step (other
    nodes) the lessee's, so that a project is both, and, with children, 1 in step is a
    child."""
    now = utcnow()
    # Node 7 is marked in every fleet (the dashboard test opens it).
    nth = (i - 7) % step
    marked, child = nth == 0, children and nth == 2
    return {
        "uuid": str(uuid.UUID(int=i)), "name": None if i % 50 == 0 else f"node-{i:07d}",
        "driver": "fake-hardware" if marked else "ipmi",
        "provision_state": "manageable" if marked else "active",
        "conductor_group": RARE if marked else f"g{i % 100}", "power_state": "power on",
        "target_provision_state": None,
        "resource_class": RARE if marked else _value(i),
        "owner": RARE if marked else _value(i),
        "lessee": RARE if nth == 1 else _value(i + 3),
        "fault": "power failure" if marked else _value(i),
        "conductor_affinity": RARE if marked else _value(i),
        "instance_uuid": None if marked else f"00000000-0000-4000-8000-{i:012d}",
        "instance_name": RARE if marked else f"instance-{i}",
        "shard": RARE if marked else None, "parent_node": PARENT if child else None,
        "chassis_uuid": CHASSIS if marked else None,
        "maintenance": marked, "retired": marked, "protected": False,
        "console_enabled": False, "provision_updated_at": now, "updated_at": now,
        "created_at": now, "description": f"node {i}" + (f" {RARE}" if marked else ""),
        "revision": 0,
        "driver_info": {"ipmi_address": f"10.0.{i // 250 % 250}.{i % 250}",
                        "ipmi_username": "admin", "ipmi_password": "secret"},
        "driver_internal_info": {}, "instance_info": {}, "network_data": {},
        "properties": {"cpus": 64, "memory_mb": 262144, "local_gb": 1800},
        "extra": {}, "traits": [], "clean_step": {}, "deploy_step": {}, "raid_config": {},
        "target_raid_config": {},
    }


def grow(db: Database, size: int, *, step: int = 100, children: bool = False) -> None:
    """Nodes up to size, 1 in step of them holding the filters' values (the default,
    1 in 100, is the fleet the other benches and the dashboard test count on)."""
    with db.read() as conn:
        have = node_queries.count(conn)
    if have == 0:
        with db.write() as conn:
            conn.execute(sa.insert(chassis).values(uuid=CHASSIS, extra={},
                                                   created_at=utcnow()))
    for start in range(have + 1, size + 1, 5000):
        with db.write() as conn:
            conn.execute(sa.insert(nodes), [_row(i, step, children)
                                            for i in range(start, min(start + 5000, size + 1))])
    with db.write() as conn:
        conn.execute(sa.text("ANALYZE" if db.is_sqlite else "ANALYZE nodes"))


def _step(size: int) -> int:
    return max(4, size // MARKED)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU of a server: the process and every process of its session
    (the tests start each server in a session of its own). Ironic's all-in-one serves
    its API from forked worker processes, so its first process alone shows next to no
    CPU. On a shared, loaded machine, CPU per request is the steadier figure; req/s moves
    with what the neighbours run."""
    total = 0
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue  # ended meanwhile
        if int(entry.name) == pid or int(fields[3]) == pid:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def settle(pid: int) -> None:
    """Wait (at most 5 s) for the server to finish the requests of the previous wrk run
    that were still running when it stopped: they would count against the next."""
    for _ in range(50):
        before = cpu_seconds(pid)
        time.sleep(0.1)
        if cpu_seconds(pid) - before < 0.01:
            return


def idle_rate(pid: int) -> float:
    """The server's CPU seconds per second while nobody asks it anything."""
    settle(pid)
    before, started = cpu_seconds(pid), time.monotonic()
    time.sleep(IDLE_SECONDS)
    return (cpu_seconds(pid) - before) / (time.monotonic() - started)


# Requests/s, and the server's CPU milliseconds per request: gross and net of idle.
Figure = tuple[float, float, float]


def wrk(url: str, seconds: int, pid: int, idle: float = 0.0, version: str = VERSION) -> Figure:
    settle(pid)
    before, started = cpu_seconds(pid), time.monotonic()
    output = subprocess.run(
        ["wrk", "-t1", "-c8", f"-d{seconds}s", "-H",
         f"X-OpenStack-Ironic-API-Version: {version}", url],
        capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    if "Non-2xx" in output:
        raise RuntimeError(f"wrk saw errors against {url}:\n{output}")
    used, wall = cpu_seconds(pid) - before, time.monotonic() - started
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    count = re.search(r"(\d+) requests in", output)
    assert rate and count, output
    requests = max(1, int(count.group(1)))
    return (float(rate.group(1)), used * 1000 / requests,
            max(0.0, used - idle * wall) * 1000 / requests)


def _plain(size: int) -> int:
    """A node near the middle holding none of the filters' values and no parent."""
    step, i = _step(size), size // 2 + 1
    while (i - 7) % step in (0, 1, 2) or i % 50 == 0:
        i += 1
    return i


def paths(size: int, quick: bool, rows: list[str] | None = None) -> dict[str, str]:
    """Label -> path (only the labels holding one of rows, if given)."""
    plain = _plain(size)
    middle = str(uuid.UUID(int=plain))
    found = {
        "node GET": f"/v1/nodes/{middle}",
        "first page": "/v1/nodes?limit=50",
        "page by marker": f"/v1/nodes?limit=50&marker={middle}",
        "/detail": f"/v1/nodes/detail?limit=50&marker={middle}",
    }
    keys = ("name", "provision_state", "updated_at") if quick else node_queries.SORTABLE
    for key in keys:
        found[f"sort {key} asc"] = f"/v1/nodes?limit=50&sort_key={key}"
        found[f"sort {key} desc, marker"] = (f"/v1/nodes?limit=50&sort_key={key}"
                                             f"&sort_dir=desc&marker={middle}")
    filters = {**FILTERS, "instance_uuid": f"00000000-0000-4000-8000-{plain:012d}"}
    for name, value in filters.items():
        if not quick or name in ("provision_state", "project", "associated"):
            found[f"filter {name}"] = f"/v1/nodes?limit=50&{name}={quote(value)}"
    if not quick:
        found["filter include_children"] = "/v1/nodes?limit=50&include_children=true"
        found["chassis nodes"] = f"/v1/chassis/{CHASSIS}/nodes?limit=50"
    # A substring most nodes' descriptions hold ("node 1..."): PostgreSQL walks the ids
    # instead of its trigram index, SQLite's index yields its matches in id order.
    found["filter description_contains, common"] = "/v1/nodes?limit=50&description_contains=node"
    if rows:
        found = {label: path for label, path in found.items()
                 if any(row in label for row in rows)}
    return found


def version_for(path: str) -> str:
    names = {part.split("=")[0] for part in path.partition("?")[2].split("&")}
    return LATEST if names & NEWER_FILTERS else VERSION


@contextlib.contextmanager
def database(backend: str, workdir: pathlib.Path) -> Iterator[str]:
    if backend == "postgresql":
        with temporary_database() as url:
            yield url
    else:
        workdir.mkdir(parents=True, exist_ok=True)
        yield f"sqlite:///{workdir}/ingot.sqlite"


Figures = dict[int, dict[str, Figure]]
Idle = dict[int, float]


def measure_ingot(backend: str, sizes: list[int], seconds: int, rounds: int, quick: bool,
                  rows: list[str] | None, workdir: pathlib.Path) -> tuple[Figures, Idle]:
    """Every size is served at once and each path measured at one size, then the next,
    rounds times, keeping the best: on a shared machine the load moves within minutes, and
    a row's sizes measured minutes apart compared the neighbours, not the sizes."""
    with contextlib.ExitStack() as stack:
        servers: dict[int, tuple[str, int, float]] = {}
        for size in sizes:
            url = stack.enter_context(database(backend, workdir / str(size)))
            db = Database(url)
            migrate.upgrade(db)
            # A database per size: the marked nodes spread over its whole id range, not
            # bunched where a smaller fleet ended.
            grow(db, size, step=_step(size), children=True)
            db.dispose()
            progress(f"{backend}: {size} nodes")
            server = IngotServer(workdir / f"serve-{size}", db_url=url, host="bench",
                                 options={"conductor": OPERATOR_CONDUCTOR}).start()
            stack.callback(server.stop)
            assert server.process is not None
            pid = server.process.pid
            wrk(server.url + "/v1/nodes?limit=50", 1, pid)  # warm-up
            servers[size] = (server.url, pid, idle_rate(pid))
        results: Figures = {size: {} for size in sizes}
        for label in paths(sizes[0], quick, rows):
            for _ in range(rounds):
                for size in sizes:
                    base, pid, idle = servers[size]
                    path = paths(size, quick, rows)[label]
                    figure = wrk(base + path, seconds, pid, idle, version_for(path))
                    best = results[size].get(label)
                    if best is None or figure[0] > best[0]:
                        results[size][label] = figure
    return results, {size: idle for size, (_, _, idle) in servers.items()}


def measure_ironic(sizes: list[int], seconds: int,
                   workdir: pathlib.Path) -> tuple[Figures, Idle]:
    from tests.servers.ironic import IronicServer  # noqa: PLC0415 - needs the ironic venv

    server = IronicServer(workdir / "ironic").start()
    results: Figures = {}
    idle: Idle = {}
    try:
        with server.client(VERSION) as client:
            client.post("/v1/nodes", json={"driver": "fake-hardware", "name": "template",
                                           "properties": {"cpus": 64}}).raise_for_status()
        have = 1
        for size in sizes:
            _copy_ironic_nodes(workdir / "ironic" / "ironic.sqlite", have, size)
            have = size
            progress(f"ironic: {size} nodes")
            with server.client(VERSION) as client:
                middle = client.get(f"/v1/nodes?limit=1&marker="
                                    f"{_ironic_uuid(size // 2)}").raise_for_status()
                assert middle.json()["nodes"], "copied nodes are not listed"
            idle[size] = idle_rate(server.pid)
            results[size] = {
                "node GET": wrk(f"{server.url}/v1/nodes/{_ironic_uuid(size // 2)}", seconds,
                                server.pid, idle[size]),
                "first page": wrk(f"{server.url}/v1/nodes?limit=50", seconds, server.pid,
                                  idle[size]),
            }
    finally:
        server.stop()
    return results, idle


def _ironic_uuid(i: int) -> str:
    return str(uuid.UUID(int=(1 << 64) + i))


def _copy_ironic_nodes(path: pathlib.Path, have: int, size: int) -> None:
    """Copies of the template node, straight into Ironic's table (its API creates 37
    nodes a second)."""
    with sqlite3.connect(path, timeout=30) as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(nodes)")
                   if row[1] != "id"]
        template = dict(zip(columns, conn.execute(
            f"SELECT {', '.join(columns)} FROM nodes WHERE name = 'template'").fetchone(),
            strict=True))
        rows = []
        for i in range(have, size):
            row = dict(template, uuid=_ironic_uuid(i), name=f"copy-{i:07d}")
            rows.append(tuple(row[c] for c in columns))
        conn.executemany(f"INSERT INTO nodes ({', '.join(columns)}) VALUES "
                         f"({', '.join('?' for _ in columns)})", rows)


def report(title: str, results: Figures, idle: Idle) -> None:
    """req/s and server CPU ms/request (gross) at each size; ratios of the largest to the
    smallest (throughput: larger/smaller, so 1.0 is flat and the target is >= 0.8)."""
    sizes = sorted(results)
    print(f"\n{title}: req/s | server CPU ms/req, gross (wrk, concurrency 8); idle CPU "
          + ", ".join(f"{idle[size] * 1000:.1f} ms/s at {size}" for size in sizes))
    print("".ljust(32) + "".join(f"{size:>16}" for size in sizes)
          + f"   {sizes[-1]}/{sizes[0]} req/s, CPU")
    for label in results[sizes[0]]:
        values = [results[size][label] for size in sizes]
        cells = "".join(f"{rps:9.0f} |{cpu:5.2f}" for rps, cpu, _ in values)
        first, last = values[0], values[-1]
        print(label.ljust(32) + cells + f"   {last[0] / first[0]:5.2f}, "
              f"{first[1] / max(last[1], 1e-9):5.2f}")


def compare(ingot: Figures, ironic: Figures, ingot_idle: Idle, ironic_idle: Idle) -> None:
    print("\ningot (SQLite) against Ironic 39 (SQLite, all in one), same run")
    for size in sorted(ironic):
        print(f"idle CPU at {size}: ingot {ingot_idle[size] * 1000:.1f} ms/s, "
              f"Ironic {ironic_idle[size] * 1000:.1f} ms/s")
    print("".ljust(22) + "ingot req/s".rjust(12) + "ironic".rjust(9) + "ratio".rjust(8)
          + "   CPU ms/req gross: ingot  ironic  ratio" + "   net of idle: ingot  ironic  ratio")
    for size in sorted(ironic):
        for label in ("node GET", "first page"):
            (ours, our_cpu, our_net) = ingot[size][label]
            (theirs, their_cpu, their_net) = ironic[size][label]
            print(f"{label} at {size}".ljust(22) + f"{ours:12.0f}{theirs:9.1f}"
                  + f"{ours / theirs:7.1f}x" + f"{our_cpu:25.3f}{their_cpu:8.2f}"
                  + f"{their_cpu / max(our_cpu, 1e-9):6.1f}x"
                  + f"{our_net:22.3f}{their_net:8.2f}{their_net / max(our_net, 1e-9):6.1f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgresql"])
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--ironic-sizes", default="1000,10000",
                        help="empty: no Ironic")
    parser.add_argument("--seconds", type=int, default=2, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=2,
                        help="runs of each path at each size, the best kept")
    parser.add_argument("--quick", action="store_true",
                        help="three sort keys and three filters instead of all")
    parser.add_argument("--rows", help="comma-separated texts: only the rows whose label "
                        "holds one, and no Ironic")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed (Debian package wrk): apt-get install wrk")
    backends = args.backend or ["sqlite", "postgresql"]
    ironic_sizes = [int(s) for s in args.ironic_sizes.split(",") if s and not args.rows]
    sizes = sorted({int(s) for s in args.sizes.split(",")}
                   | (set(ironic_sizes) if "sqlite" in backends else set()))
    with tempfile.TemporaryDirectory(prefix="ingot-bench-") as tmp:
        workdir = pathlib.Path(tmp)
        rows = args.rows.split(",") if args.rows else None
        measured = {backend: measure_ingot(backend, sizes, args.seconds, args.rounds,
                                           args.quick, rows, workdir / backend)
                    for backend in backends}
        ironic, ironic_idle = measure_ironic(ironic_sizes, args.seconds, workdir) \
            if ironic_sizes and "sqlite" in backends else ({}, {})
    for backend, (results, idle) in measured.items():
        report(f"ingot on {backend}", results, idle)
    if ironic:
        results, idle = measured["sqlite"]
        compare(results, ironic, idle, ironic_idle)
    print(f"\nload average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
