#!/usr/bin/env python3
"""Does the dashboard's fleet view open as fast at 100k nodes as at 1k?

    bench/ui_fleet.py [--backend sqlite --backend postgresql] [--sizes 1000,100000]
                      [--requests 40] [--no-browser]

For each backend, one database per size (bench/list_scale.py's fleet, rows written
straight into the table), each with its own `ingot serve`, all running at once and
measured in turn (the machine is shared: its load moves, and each size sees the same).
Each gets the requests the fleet page makes when it opens (the page, its first 50
nodes, the counts, cached by the service), a filtered page, a page sorted by name and a
page by marker; in process, the counts' uncached reading and the change cursor's poll:
median and 95th percentile milliseconds, one request at a time. With Debian's chromium
and playwright installed, headless Chromium also opens /ui/ and the time until the
table shows its rows is measured the same way. Figures are printed side by side with
the smallest size, the anchor (ratio: how many times slower the largest size is).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import pathlib
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import httpx

from bench.list_scale import database, grow, progress
from ingot.db import migrate
from ingot.db.engine import Database
from ingot.ui import fleet
from tests.servers.ingot import IngotServer

FIELDS = ("uuid,name,provision_state,target_provision_state,power_state,maintenance,"
          "driver,resource_class,conductor_group,provision_updated_at,last_error")
HEADERS = {"X-OpenStack-Ironic-API-Version": "1.78"}

Figures = dict[int, dict[str, tuple[float, float]]]


Call = Callable[[], object]


def interleaved(calls: dict[int, Call], count: int) -> dict[int, tuple[float, float]]:
    """Each size's call in turn, count rounds: the sizes see the same machine (it is
    shared, and its load moves). Median and 95th percentile milliseconds per size."""
    samples: dict[int, list[float]] = {size: [] for size in calls}
    for call in calls.values():
        call()  # warm-up
    for _ in range(count):
        for size, call in calls.items():
            started = time.perf_counter()
            call()
            samples[size].append((time.perf_counter() - started) * 1000)
    out = {}
    for size, values in samples.items():
        values.sort()
        out[size] = (statistics.median(values), values[max(0, int(len(values) * 0.95) - 1)])
    return out


def requests(size: int) -> dict[str, str]:
    middle = str(uuid.UUID(int=size // 2 + 1))
    page = f"/v1/nodes?limit=50&fields={FIELDS}"
    return {"page HTML /ui/": "/ui/", "first 50 nodes": page, "counts /ui/api/summary":
            "/ui/api/summary", "filter provision_state": page + "&provision_state=manageable",
            "sort name desc": page + "&sort_key=name&sort_dir=desc",
            "page by marker": page + f"&marker={middle}"}


def _get(client: httpx.Client, path: str) -> None:
    client.get(path).raise_for_status()


def browser_opens(urls: dict[int, str], count: int) -> dict[int, tuple[float, float]] | None:
    try:
        from playwright.sync_api import sync_playwright  # noqa: PLC0415 - optional
    except ImportError:
        return None
    from tests.ui.browser import chromium_path  # noqa: PLC0415

    executable = chromium_path()
    if executable is None:
        return None
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable,
                                             args=["--no-sandbox"])
        try:
            pages = {size: browser.new_page() for size in urls}

            def opener(size: int) -> Call:
                def open_fleet() -> None:
                    page = pages[size]
                    page.goto(urls[size])
                    page.wait_for_function(
                        "document.querySelectorAll('#nodes tbody tr').length === 50 && "
                        "/^[0-9]+$/.test(document.querySelector('#total').textContent)")
                return open_fleet
            return interleaved({size: opener(size) for size in urls}, count)
        finally:
            browser.close()


def measure(backend: str, sizes: list[int], count: int, use_browser: bool,
            workdir: pathlib.Path) -> Figures:
    """Every size's database and `ingot serve` at once, measured in turn."""
    with contextlib.ExitStack() as stack:
        calls: dict[str, dict[int, Call]] = {}
        urls: dict[int, str] = {}
        for size in sizes:
            (workdir / f"db-{size}").mkdir(parents=True)
            url = stack.enter_context(database(backend, workdir / f"db-{size}"))
            db = Database(url)
            stack.callback(db.dispose)
            migrate.upgrade(db)
            grow(db, size)
            progress(f"{backend}: {size} nodes")
            server = IngotServer(workdir / f"serve-{size}", db_url=url, host="bench").start()
            stack.callback(server.stop)
            urls[size] = server.url + "/ui/"
            client = stack.enter_context(httpx.Client(base_url=server.url, headers=HEADERS,
                                                      timeout=30))
            for label, path in requests(size).items():
                calls.setdefault(label, {})[size] = functools.partial(_get, client, path)
            latest = fleet.latest_change(db)
            assert latest is not None
            # What the summary cache saves: the counts' own reading.
            calls.setdefault("counts uncached (in process)", {})[size] = \
                functools.partial(fleet.summary, db)
            calls.setdefault("change poll (in process)", {})[size] = \
                functools.partial(fleet.changes_since, db, latest, 500)
        results: Figures = {size: {} for size in sizes}
        for label, by_size in calls.items():
            for size, figures in interleaved(by_size, count).items():
                results[size][label] = figures
        if use_browser:
            opened = browser_opens(urls, max(5, count // 4))
            for size, figures in (opened or {}).items():
                results[size]["Chromium: open, 50 rows shown"] = figures
        return results


def report(title: str, results: Figures) -> None:
    sizes = sorted(results)
    print(f"\n{title}: milliseconds, median / 95th percentile, one request at a time")
    print("".ljust(34) + "".join(f"{size:>18}" for size in sizes)
          + f"   {sizes[-1]}/{sizes[0]} (median)")
    for label in results[sizes[0]]:
        if any(label not in results[size] for size in sizes):
            continue
        values = [results[size][label] for size in sizes]
        cells = "".join(f"{median:10.2f} /{p95:6.2f}" for median, p95 in values)
        first, last = values[0], values[-1]
        print(label.ljust(34) + cells + f"   {last[0] / max(first[0], 1e-9):6.2f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgresql"])
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    sizes = sorted({int(s) for s in args.sizes.split(",")})
    with tempfile.TemporaryDirectory(prefix="ingot-bench-ui-") as tmp:
        measured = {backend: measure(backend, sizes, args.requests, not args.no_browser,
                                     pathlib.Path(tmp) / backend)
                    for backend in args.backend or ["sqlite"]}
    for backend, results in measured.items():
        report(f"fleet view on {backend}", results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
