#!/usr/bin/env python3
"""How long `ingot proxy` takes to list the nodes of three distant sites.

    bench/proxy_fanout.py [--nodes 500] [--latency-ms 50] [--rounds 30]

Three real `ingot serve` sites get --nodes nodes each. Latency is added outside them,
so neither the sites nor the loopback device other users share are changed; two
scenarios are measured:

* real sites: a delay line in front of each site, a TCP relay (a process of its own)
  that hands every chunk on latency/2 after it arrived, in each direction, so every
  request/response exchange pays the latency once, as over a WAN link. The three
  sites then render their lists at the same moment on this machine's 2 cores, which
  real edge sites, each on its own machine, do not;
* replayed sites: each site's answers, recorded once from the real site, served by a
  small HTTP server the same latency after each request. The sites cost no CPU, so
  this isolates what the proxy adds, as if every site had a machine of its own.

For each: each site alone (GET /v1/nodes: its 500 nodes); the three one after another,
what a sequential merge (the proof of concept ironic-proxy) costs at least; the three at
once straight from this process, the floor of any parallel fan-out here; and the
proxy's merged list of all 3 x 500 nodes in one page ([api] max_limit = 2000), in the
default order (concatenated by site) and sorted by name (merged), and its first 500
sorted by name (as large an answer as one site's). Median and p90 of
--rounds, taken in turn (one of each per round) after a warm-up. Target: the proxy
within 10 % + 5 ms of the slowest site alone.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import functools
import os
import pathlib
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator

import httpx
import orjson

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from tests.proxy.servers import ProxyServer, proxy_sections
from tests.servers.ingot import IngotServer
from tests.servers.process import Process, free_port, wait_until

HEADERS = {"X-OpenStack-Ironic-API-Version": "1.73"}
GROUPS = {"loc1": "", "loc2": "grp1", "loc3": "grp2"}
# What the replay server answers, by path and sort_key: recorded from the real site.
RECORDED = {"root": "/", "default": "/v1/nodes?limit=1000",
            "name": "/v1/nodes?limit=1000&sort_key=name"}


# --- the delay line and the replay server (their own process) ---------------------------

async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                delay: float) -> None:
    """Copy reader to writer, each chunk delay seconds after it arrived."""
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    async def deliver() -> None:
        while True:
            arrived, chunk = await queue.get()
            if not chunk:
                break
            wait = arrived + delay - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(chunk)
            await writer.drain()
        with contextlib.suppress(OSError):
            writer.close()

    delivering = asyncio.create_task(deliver())
    try:
        while True:
            chunk = await reader.read(65536)
            queue.put_nowait((loop.time(), chunk))
            if not chunk:
                break
    except OSError:
        queue.put_nowait((loop.time(), b""))
    await delivering


async def _relay(target: int, delay: float, client_r: asyncio.StreamReader,
                 client_w: asyncio.StreamWriter) -> None:
    server_r, server_w = await asyncio.open_connection("127.0.0.1", target)
    await asyncio.gather(_pump(client_r, server_w, delay), _pump(server_r, client_w, delay),
                         return_exceptions=True)


async def _replay(answers: dict[str, bytes], latency: float, reader: asyncio.StreamReader,
                  writer: asyncio.StreamWriter) -> None:
    """A keep-alive HTTP/1.1 server answering GETs from answers after latency seconds."""
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            target = head.split(b" ", 2)[1].decode()
            key = "root" if target.split("?")[0] in ("/", "") else \
                "name" if "sort_key=name" in target else "default"
            body = answers[key]
            await asyncio.sleep(latency)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                         b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            await writer.drain()


async def _serve(routes: list[str], latency: float) -> None:
    servers = []
    for route in routes:
        listen, _, target = route.partition(":")
        if target.isdigit():
            async def relay(r: asyncio.StreamReader, w: asyncio.StreamWriter,
                            port: int = int(target)) -> None:
                await _relay(port, latency / 2, r, w)
            servers.append(await asyncio.start_server(relay, "127.0.0.1", int(listen)))
        else:
            answers = {key: pathlib.Path(f"{target}.{key}.json").read_bytes()
                       for key in RECORDED}

            async def replay(r: asyncio.StreamReader, w: asyncio.StreamWriter,
                             answers: dict[str, bytes] = answers) -> None:
                await _replay(answers, latency, r, w)
            servers.append(await asyncio.start_server(replay, "127.0.0.1", int(listen)))
    await asyncio.gather(*(server.serve_forever() for server in servers))


def serve_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="proxy_fanout.py serve")
    parser.add_argument("--latency-ms", type=float, required=True)
    parser.add_argument("routes", nargs="+",
                        help="LISTEN_PORT:TARGET_PORT (delay line) or "
                             "LISTEN_PORT:RECORDING_PREFIX (replay)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        asyncio.run(_serve(args.routes, args.latency_ms / 1000))
    return 0


# --- the benchmark ---------------------------------------------------------------------

def progress(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


def populate(url: str, count: int, group: str, site: str) -> None:
    def create(start: int) -> None:
        with httpx.Client(base_url=url, headers=HEADERS, timeout=60) as client:
            for i in range(start, count, 4):
                body = {"driver": "fake-hardware", "conductor_group": group,
                        "name": f"{site}-{i:04d}-{os.urandom(2).hex()}"}
                client.post("/v1/nodes", json=body).raise_for_status()

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(create, range(4)))


def record(url: str, prefix: pathlib.Path) -> str:
    with httpx.Client(base_url=url, headers=HEADERS, timeout=60) as client:
        for key, path in RECORDED.items():
            response = client.get(path)
            response.raise_for_status()
            pathlib.Path(f"{prefix}.{key}.json").write_bytes(response.content)
    return str(prefix)


@contextlib.contextmanager
def serving(targets: dict[str, str], latency_ms: float, log: pathlib.Path
            ) -> Iterator[dict[str, str]]:
    """Delay lines (target a port) or replay servers (target a recording prefix)."""
    ports = {name: free_port() for name in targets}
    argv = [sys.executable, __file__, "serve", "--latency-ms", str(latency_ms),
            *(f"{ports[name]}:{target}" for name, target in targets.items())]
    process = Process(argv, str(log))
    try:
        for port in ports.values():
            wait_until(functools.partial(_listening, port), 10, "delay line")
        yield {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    finally:
        process.stop()


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def proxy_in_front(far: dict[str, str], workdir: pathlib.Path) -> Iterator[ProxyServer]:
    groups = ",".join(f"{g or '_'}:{n}" for n, g in GROUPS.items())
    proxy = ProxyServer(workdir, proxy_sections(far, groups=groups, options={
        "DEFAULT": {"debug": "false"}, "api": {"max_limit": 2000},
        # The operator defaults for site discovery, not the tests' quick probes.
        "proxy": {"site_timeout": 30, "discovery_interval": 30,
                  "down_probe_interval": 2}})).start()
    try:
        yield proxy
    finally:
        proxy.stop()


def cpu_ms(pid: int) -> float:
    """CPU time a process's threads have run so far, from the scheduler's own clock
    (/proc/<pid>/task/*/schedstat, ns) rather than /proc/<pid>/stat's utime/stime,
    which count whole timer ticks: each list's share is a few ms."""
    total = 0
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):  # a thread that ended meanwhile
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e6


def timed(rounds: int, actions: dict[str, Callable[[], object]],
          cpu: Callable[[], float]) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Every action once per round, in turn, so that load from other processes on this
    shared machine weighs on all of them alike; with the wall times (ms), the proxy's CPU
    (ms, from cpu()) summed over each action's measured rounds."""
    for action in actions.values():
        for _ in range(3):
            # Warm-up (connections, caches); after a pause, a kept-alive connection may
            # have been closed by the server while the close was still in a delay line.
            with contextlib.suppress(httpx.RemoteProtocolError):
                action()
    samples: dict[str, list[float]] = {name: [] for name in actions}
    spent = dict.fromkeys(actions, 0.0)
    for _ in range(rounds):
        for name, action in actions.items():
            cpu_started = cpu()
            started = time.perf_counter()
            action()
            samples[name].append((time.perf_counter() - started) * 1000)
            spent[name] += cpu() - cpu_started
    return samples, spent


def getter(client: httpx.Client, path: str, expect: int) -> Callable[[], None]:
    def get() -> None:
        response = client.get(path)
        response.raise_for_status()
        # orjson, as the proxy and ingot use: the client's parsing is not what is measured.
        count = len(orjson.loads(response.content)["nodes"])
        assert count == expect, f"{path}: {count} nodes, expected {expect}"
        assert "X-Ingot-Missing-Sites" not in response.headers
    return get


def p90(samples: list[float]) -> float:
    return sorted(samples)[max(0, int(len(samples) * 0.9) - 1)]


def measure(title: str, args: argparse.Namespace, far: dict[str, str],
            proxy: ProxyServer) -> None:
    n, rounds = args.nodes, args.rounds
    clients = {name: httpx.Client(base_url=url, headers=HEADERS, timeout=60)
               for name, url in far.items()}
    via_proxy = httpx.Client(base_url=proxy.url, headers=HEADERS, timeout=60)
    assert proxy.process is not None
    pid = proxy.process.pid
    progress(f"{title}: the proxy's idle CPU, then each site alone, one after another, "
             "at once, the proxy")
    idle_started = cpu_ms(pid)
    time.sleep(3)
    idle_ms_per_s = (cpu_ms(pid) - idle_started) / 3
    alone = {name: getter(client, "/v1/nodes", n) for name, client in clients.items()}
    pool = concurrent.futures.ThreadPoolExecutor(len(clients))
    samples, spent = timed(rounds, {
        **alone,
        "sequential": lambda: [get() for get in alone.values()],
        "at once": lambda: list(pool.map(lambda get: get(), alone.values())),
        "proxy": getter(via_proxy, "/v1/nodes", n * len(far)),
        "proxy sorted": getter(via_proxy, "/v1/nodes?sort_key=name", n * len(far)),
        "proxy page": getter(via_proxy, f"/v1/nodes?sort_key=name&limit={n}", n),
    }, lambda: cpu_ms(pid))
    pool.shutdown()
    # The proxy's CPU while each of its lists was being answered (the kernel counts in
    # 10 ms ticks, so only the sum over the rounds means something), and what it spent
    # meanwhile on the other rows, where it has nothing to do: its idle background.
    per_list = {name: spent[name] / rounds
                for name in ("proxy", "proxy sorted", "proxy page")}
    background = sum(v for k, v in spent.items() if not k.startswith("proxy"))
    sequential, at_once = samples["sequential"], samples["at once"]
    merged, merged_sorted = samples["proxy"], samples["proxy sorted"]
    page = samples["proxy page"]
    alone_samples = {name: samples[name] for name in clients}

    slowest = max(statistics.median(s) for s in alone_samples.values())
    summed = sum(statistics.median(s) for s in alone_samples.values())
    target = slowest * 1.10 + 5
    rows = [*((f"site {name} alone ({n} nodes)", s) for name, s in alone_samples.items()),
            (f"sites one after another ({len(far)} x {n})", sequential),
            (f"sites at once, no proxy ({len(far)} x {n})", at_once),
            (f"proxy, default order ({len(far) * n})", merged),
            (f"proxy, sort_key=name ({len(far) * n})", merged_sorted),
            (f"proxy, sort_key=name, limit={n} ({n})", page)]
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"\n{title}: {len(far)} sites x {n} nodes, +{args.latency_ms:g} ms per "
          f"exchange, {rounds} rounds (ms); load average {load} on {os.cpu_count()} CPUs")
    print(f"{'':44} {'median':>8} {'p90':>8}")
    for label, row in rows:
        print(f"{label:44} {statistics.median(row):8.1f} {p90(row):8.1f}")
    print(f"slowest site alone {slowest:.1f}, sum of the sites {summed:.1f}, "
          f"target {target:.1f} (slowest x 1.1 + 5)")
    print(f"the proxy's own CPU per list (target <= 5 ms for a merged {len(far) * n}): "
          f"default order {per_list['proxy']:.1f} ms, sort_key=name "
          f"{per_list['proxy sorted']:.1f} ms, sort_key=name limit={n} "
          f"{per_list['proxy page']:.1f} ms; idle {idle_ms_per_s:.1f} ms/s alone, "
          f"{background:.0f} ms during the {rounds} rounds of the other rows")
    for label, row in (("proxy, default order", merged),
                       ("proxy, sort_key=name", merged_sorted),
                       (f"proxy, sort_key=name, limit={n}", page)):
        median = statistics.median(row)
        print(f"  {label}: {median:.1f} = {median / slowest:.2f} x slowest, "
              f"{median / summed:.2f} x sum, {median - statistics.median(at_once):+.1f} vs "
              f"at once: {'within' if median <= target else 'OVER'} target")
    for client in (*clients.values(), via_proxy):
        client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=500, help="nodes per site")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="proxy-fanout-") as tmp:
        workdir = pathlib.Path(tmp)
        sites = {name: IngotServer(workdir / name, host=f"{name}-conductor",
                                   options={"conductor": {"conductor_group": group}})
                 for name, group in GROUPS.items()}
        try:
            for server in sites.values():
                server.start()
            progress(f"creating {args.nodes} nodes at each of {len(sites)} sites")
            for name, server in sites.items():
                populate(server.url, args.nodes, GROUPS[name], name)
            ports = {name: server.url.rsplit(":", 1)[1] for name, server in sites.items()}
            with serving(ports, args.latency_ms, workdir / "delay.log") as far, \
                    proxy_in_front(far, workdir / "proxy-real") as proxy:
                measure("real ingot sites behind delay lines", args, far, proxy)
            recordings = {name: record(server.url, workdir / f"{name}-recorded")
                          for name, server in sites.items()}
        finally:
            for server in sites.values():
                server.stop()
        with serving(recordings, args.latency_ms, workdir / "replay.log") as far, \
                proxy_in_front(far, workdir / "proxy-replay") as proxy:
            measure("replayed sites (no CPU of their own)", args, far, proxy)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        raise SystemExit(serve_main(sys.argv[2:]))
    raise SystemExit(main())
