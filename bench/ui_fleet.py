#!/usr/bin/env python3
"""Does the dashboard's fleet view open as fast at 100k nodes as at 1k?

    bench/ui_fleet.py [--backend sqlite --backend postgresql] [--sizes 1000,100000]
                      [--requests 40] [--no-browser]

For each backend, one database grows through --sizes (bench/list_scale.py's fleet,
rows written straight into the table); at each size a fresh `ingot serve` on it gets
the requests the fleet page makes when it opens (the page, its first 50 nodes, the
counts, cached for 2 s by the service), a filtered page, a page sorted by name, a page
by marker, and in process the counts' uncached reading and the change cursor's poll,
one at a time: median and 95th percentile milliseconds. With Debian's
chromium and playwright installed, headless Chromium also opens /ui/ and the time
until the table shows its rows is measured. Figures are printed side by side with
the smallest size, the anchor (ratio: how many times slower the largest size is).
"""

from __future__ import annotations

import argparse
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


def timed(call: Callable[[], object], count: int) -> tuple[float, float]:
    call()  # warm-up
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def requests(size: int) -> dict[str, str]:
    middle = str(uuid.UUID(int=size // 2 + 1))
    page = f"/v1/nodes?limit=50&fields={FIELDS}"
    return {"page HTML /ui/": "/ui/", "first 50 nodes": page, "counts /ui/api/summary":
            "/ui/api/summary", "filter provision_state": page + "&provision_state=manageable",
            "sort name desc": page + "&sort_key=name&sort_dir=desc",
            "page by marker": page + f"&marker={middle}"}


def browser_open(url: str, count: int) -> tuple[float, float] | None:
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
        page = browser.new_page()

        def open_fleet() -> None:
            page.goto(url)
            page.wait_for_function("document.querySelectorAll('#nodes tbody tr').length"
                                   " === 50 && /^[0-9]+$/.test(document.querySelector("
                                   "'#total').textContent)")
        try:
            return timed(open_fleet, count)
        finally:
            browser.close()


def measure(backend: str, sizes: list[int], count: int, use_browser: bool,
            workdir: pathlib.Path) -> Figures:
    results: Figures = {}
    with database(backend, workdir) as url:
        db = Database(url)
        migrate.upgrade(db)
        for size in sizes:
            grow(db, size)
            progress(f"{backend}: {size} nodes")
            server = IngotServer(workdir / f"serve-{size}", db_url=url, host="bench").start()
            try:
                with httpx.Client(base_url=server.url, headers=HEADERS, timeout=30) as client:
                    def get(path: str) -> Callable[[], object]:
                        return lambda: client.get(path).raise_for_status()
                    results[size] = {label: timed(get(path), count)
                                     for label, path in requests(size).items()}
                latest = fleet.latest_change(db)
                assert latest is not None
                # What the 2 s summary cache saves: the counts' own reading.
                results[size]["counts uncached (in process)"] = timed(
                    functools.partial(fleet.summary, db), count)
                results[size]["change poll (in process)"] = timed(
                    functools.partial(fleet.changes_since, db, latest, 500), count)
                if use_browser:
                    opened = browser_open(server.url + "/ui/", max(5, count // 8))
                    if opened is not None:
                        results[size]["Chromium: open, 50 rows shown"] = opened
            finally:
                server.stop()
        db.dispose()
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
