#!/usr/bin/env python3
"""How long 1000 fake-hardware nodes take from enroll to active.

    bench/deploy_scale.py [--nodes 1000] [--backend sqlite --backend postgresql]
                          [--conductors 0] [--concurrency 8]

Per backend, a fresh `ingot serve` (API and conductor in one process) or, with
--conductors N (PostgreSQL), `ingot api` beside N `ingot conductor` processes; the
nodes are created through the API, then manage, provide and deploy are requested for
all of them and the time until every node is active is printed (target: under 10 s),
with the share of nodes each conductor ended on.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import pathlib
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from bench.api import HEADERS, create_nodes, deploy_all, list_all, progress
from tests.servers.ingot import IngotServer
from tests.servers.postgres import temporary_database


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time the processes have used: unlike wall time, it does not
    grow when other work shares the machine's cores."""
    ticks = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def started(backend: str, conductors: int,
            workdir: pathlib.Path) -> Iterator[tuple[str, list[int]]]:
    """The API's URL and the pids of the ingot processes."""
    servers: list[IngotServer] = []
    with contextlib.ExitStack() as stack:
        if backend == "postgresql":
            url = stack.enter_context(temporary_database())
        else:
            url = f"sqlite:///{workdir}/ingot.sqlite"
        if conductors:
            api = IngotServer(workdir / "api", db_url=url, command="api", host="api")
            api.start()
            stack.callback(api.stop)
            servers.append(api)
            for index in range(conductors):
                host = f"c{index + 1}"
                server = IngotServer(workdir / host, db_url=url, command="conductor",
                                     host=host)
                server.start()
                stack.callback(server.stop)
                servers.append(server)
            with api.client() as client:
                deadline = time.monotonic() + 60
                while len(client.get("/v1/conductors").json()["conductors"]) < conductors:
                    assert time.monotonic() < deadline, "conductors never registered"
                    time.sleep(0.1)
        else:
            api = IngotServer(workdir / "serve", db_url=url, host="serve").start()
            stack.callback(api.stop)
            servers.append(api)
        yield api.url, [server.process.pid for server in servers if server.process]


async def _listed(url: str, tag: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=url, headers=HEADERS, timeout=60) as client:
        return await list_all(client, tag, "uuid,conductor")


def measure(backend: str, args: argparse.Namespace, workdir: pathlib.Path) -> None:
    with started(backend, args.conductors, workdir) as (url, pids):
        tag = f"deploy{uuid.uuid4().hex[:6]}"
        uuids, seconds = asyncio.run(create_nodes(url, args.nodes, args.concurrency, tag))
        progress(f"{backend}: created {len(uuids)} nodes in {seconds:.1f} s")
        cpu = cpu_seconds(pids)
        took = asyncio.run(deploy_all(url, uuids, args.concurrency, tag))
        cpu = cpu_seconds(pids) - cpu
        listed = asyncio.run(_listed(url, tag))
        shares = collections.Counter(node["conductor"] for node in listed)
    where = f"{args.conductors} conductor processes" if args.conductors else "ingot serve"
    print(f"{backend:<11} {where}: {len(uuids)} nodes enroll -> active in {took:.2f} s "
          f"(ingot CPU {cpu:.2f} s, load average {os.getloadavg()[0]:.1f}); "
          f"conductors: {dict(sorted(shares.items()))}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgresql"])
    parser.add_argument("--conductors", type=int, default=0,
                        help="separate conductor processes (PostgreSQL)")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ingot-bench-") as tmp:
        for backend in args.backend or ["sqlite", "postgresql"]:
            measure(backend, args, pathlib.Path(tmp) / backend)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
