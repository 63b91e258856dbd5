#!/usr/bin/env python3
"""Does a node page cost the same at 1k and 100k nodes? And against Ironic 39?

    bench/list_scale.py [--backend sqlite --backend postgresql] [--sizes 1000,100000]
                        [--ironic-sizes 1000,10000] [--seconds 2] [--quick]

For each backend, one database grows through --sizes (rows written straight into the
table, values spread as in a real fleet: 1 in 50 NULL, filter values 1 in 100); at each
size a fresh `ingot serve` on it is driven by wrk (concurrency 8) through: node GET, the
first 50-node page, a page by marker, /detail, every documented sort key (its first page
ascending, a page by marker descending) and every filter (a rare value). It prints
req/s at each size and the ratio of the largest to the smallest (target >= 0.8).

Then a real Ironic 39 all-in-one (SQLite, as tests/servers/ironic.py starts it) gets
the same number of nodes at each --ironic-sizes (one created through its API, copied
in its table) and node GET and the 50-node list are measured beside ingot's figures
at the same size (targets: GET >= 30x, list >= 20x).
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
import uuid
from collections.abc import Iterator
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from ingot.db import migrate
from ingot.db import nodes as node_queries
from ingot.db.engine import Database
from ingot.db.models import nodes, utcnow
from tests.servers.ingot import IngotServer
from tests.servers.postgres import temporary_database

VERSION = "1.73"
RARE = "v7"
FILTERS = {
    "driver": "fake-hardware", "provision_state": "manageable", "maintenance": "true",
    "associated": "false", "retired": "true", "conductor_group": "g7",
    "resource_class": RARE, "owner": RARE, "lessee": RARE, "project": RARE,
    "fault": RARE, "instance_uuid": "00000000-0000-4000-8000-000000000707",
    "conductor": RARE,
}


def progress(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


def _value(i: int) -> str | None:
    return None if i % 50 == 0 else f"v{i % 100}"


def _row(i: int) -> dict[str, Any]:
    now = utcnow()
    rare = i % 100 == 7
    return {
        "uuid": str(uuid.UUID(int=i)), "name": None if i % 50 == 0 else f"node-{i:07d}",
        "driver": "fake-hardware" if rare else "ipmi",
        "provision_state": "manageable" if rare else "active",
        "conductor_group": f"g{i % 100}", "power_state": "power on",
        "target_provision_state": None, "resource_class": _value(i), "owner": _value(i),
        "lessee": _value(i + 3), "fault": _value(i), "conductor_affinity": _value(i),
        "instance_uuid": None if i % 100 == 7 else f"00000000-0000-4000-8000-{i:012d}",
        "maintenance": rare, "retired": rare, "protected": False, "console_enabled": False,
        "provision_updated_at": now, "updated_at": now, "created_at": now,
        "description": f"node {i}", "revision": 0,
        "driver_info": {"ipmi_address": f"10.0.{i // 250 % 250}.{i % 250}",
                        "ipmi_username": "admin", "ipmi_password": "secret"},
        "driver_internal_info": {}, "instance_info": {}, "network_data": {},
        "properties": {"cpus": 64, "memory_mb": 262144, "local_gb": 1800},
        "extra": {}, "traits": [], "clean_step": {}, "deploy_step": {}, "raid_config": {},
        "target_raid_config": {},
    }


def grow(db: Database, size: int) -> None:
    with db.read() as conn:
        have = node_queries.count(conn)
    for start in range(have + 1, size + 1, 5000):
        with db.write() as conn:
            conn.execute(sa.insert(nodes), [_row(i) for i in range(start, min(start + 5000,
                                                                              size + 1))])
    with db.write() as conn:
        conn.execute(sa.text("ANALYZE" if db.is_sqlite else "ANALYZE nodes"))


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


def wrk(url: str, seconds: int, pid: int) -> tuple[float, float]:
    """Requests/s, and the server's CPU milliseconds per request."""
    before = cpu_seconds(pid)
    output = subprocess.run(
        ["wrk", "-t1", "-c8", f"-d{seconds}s", "-H",
         f"X-OpenStack-Ironic-API-Version: {VERSION}", url],
        capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    if "Non-2xx" in output:
        raise RuntimeError(f"wrk saw errors against {url}:\n{output}")
    used = cpu_seconds(pid) - before
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    count = re.search(r"(\d+) requests in", output)
    assert rate and count, output
    return float(rate.group(1)), used * 1000 / max(1, int(count.group(1)))


def paths(size: int, quick: bool) -> dict[str, str]:
    middle = str(uuid.UUID(int=size // 2 + 1))
    found = {
        "node GET": f"/v1/nodes/{middle}",
        "first page": "/v1/nodes?limit=50",
        "page by marker": f"/v1/nodes?limit=50&marker={middle}",
        "/detail": f"/v1/nodes/detail?limit=50&marker={middle}",
    }
    keys = ("name", "provision_state", "updated_at") if quick else node_queries.SORTABLE
    for key in keys:
        if key in node_queries.UNINDEXED_SORT_KEYS:
            continue
        found[f"sort {key} asc"] = f"/v1/nodes?limit=50&sort_key={key}"
        found[f"sort {key} desc, marker"] = (f"/v1/nodes?limit=50&sort_key={key}"
                                             f"&sort_dir=desc&marker={middle}")
    for name, value in FILTERS.items():
        if not quick or name in ("provision_state", "project", "associated"):
            found[f"filter {name}"] = f"/v1/nodes?limit=50&{name}={value}"
    return found


@contextlib.contextmanager
def database(backend: str, workdir: pathlib.Path) -> Iterator[str]:
    if backend == "postgresql":
        with temporary_database() as url:
            yield url
    else:
        yield f"sqlite:///{workdir}/ingot.sqlite"


Figures = dict[int, dict[str, tuple[float, float]]]


def measure_ingot(backend: str, sizes: list[int], seconds: int, quick: bool,
                  workdir: pathlib.Path) -> Figures:
    results: Figures = {}
    with database(backend, workdir) as url:
        db = Database(url)
        migrate.upgrade(db)
        for size in sizes:
            grow(db, size)
            progress(f"{backend}: {size} nodes")
            server = IngotServer(workdir / f"serve-{size}", db_url=url, host="bench").start()
            assert server.process is not None
            pid = server.process.pid
            try:
                wrk(server.url + "/v1/nodes?limit=50", 1, pid)  # warm-up
                results[size] = {label: wrk(server.url + path, seconds, pid)
                                 for label, path in paths(size, quick).items()}
            finally:
                server.stop()
        db.dispose()
    return results


def measure_ironic(sizes: list[int], seconds: int, workdir: pathlib.Path) -> Figures:
    from tests.servers.ironic import IronicServer  # noqa: PLC0415 - needs the ironic venv

    server = IronicServer(workdir / "ironic").start()
    results: Figures = {}
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
            results[size] = {
                "node GET": wrk(f"{server.url}/v1/nodes/{_ironic_uuid(size // 2)}", seconds,
                                server.pid),
                "first page": wrk(f"{server.url}/v1/nodes?limit=50", seconds, server.pid),
            }
    finally:
        server.stop()
    return results


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


def report(title: str, results: Figures) -> None:
    """req/s and server CPU ms/request at each size; ratios of the largest to the
    smallest (throughput: larger/smaller, so 1.0 is flat and the target is >= 0.8)."""
    sizes = sorted(results)
    print(f"\n{title}: req/s | server CPU ms/req (wrk, concurrency 8)")
    print("".ljust(32) + "".join(f"{size:>16}" for size in sizes)
          + f"   {sizes[-1]}/{sizes[0]} req/s, CPU")
    for label in results[sizes[0]]:
        values = [results[size][label] for size in sizes]
        cells = "".join(f"{rps:9.0f} |{cpu:5.2f}" for rps, cpu in values)
        first, last = values[0], values[-1]
        print(label.ljust(32) + cells + f"   {last[0] / first[0]:5.2f}, "
              f"{first[1] / max(last[1], 1e-9):5.2f}")


def compare(ingot: Figures, ironic: Figures) -> None:
    print("\ningot (SQLite) against Ironic 39 (SQLite, all in one), same run")
    print("".ljust(22) + "ingot req/s".rjust(12) + "ironic".rjust(9) + "ratio".rjust(8)
          + "   ingot CPU ms/req  ironic  ratio")
    for size in sorted(ironic):
        for label in ("node GET", "first page"):
            (ours, our_cpu), (theirs, their_cpu) = ingot[size][label], ironic[size][label]
            print(f"{label} at {size}".ljust(22) + f"{ours:12.0f}{theirs:9.1f}"
                  + f"{ours / theirs:7.1f}x" + f"{our_cpu:15.2f}{their_cpu:11.1f}"
                  + f"{their_cpu / max(our_cpu, 1e-9):6.1f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgresql"])
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--ironic-sizes", default="1000,10000",
                        help="empty: no Ironic")
    parser.add_argument("--seconds", type=int, default=2, help="length of each wrk run")
    parser.add_argument("--quick", action="store_true",
                        help="three sort keys and three filters instead of all")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed (Debian package wrk): apt-get install wrk")
    backends = args.backend or ["sqlite", "postgresql"]
    ironic_sizes = [int(s) for s in args.ironic_sizes.split(",") if s]
    sizes = sorted({int(s) for s in args.sizes.split(",")}
                   | (set(ironic_sizes) if "sqlite" in backends else set()))
    with tempfile.TemporaryDirectory(prefix="ingot-bench-") as tmp:
        workdir = pathlib.Path(tmp)
        measured = {backend: measure_ingot(backend, sizes, args.seconds, args.quick,
                                           workdir / backend) for backend in backends}
        ironic = measure_ironic(ironic_sizes, args.seconds, workdir) if ironic_sizes \
            and "sqlite" in backends else {}
    for backend, results in measured.items():
        report(f"ingot on {backend}", results)
    if ironic:
        compare(measured["sqlite"], ironic)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
