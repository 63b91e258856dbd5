"""The inventory ingot's agent collects: this machine's as /proc and /sys show it, or
the local-vm "machine" it was given (a disk file and MACs)."""

from __future__ import annotations

import http.server
import json
import os
import pathlib
import platform
import threading

from ingot.agent import inventory
from ingot.inspection.inventory import check


def test_this_machine(tmp_path: pathlib.Path) -> None:
    found = inventory.collect()
    assert found["cpu"]["count"] == os.cpu_count()
    assert found["cpu"]["architecture"] == platform.machine()
    assert found["memory"]["total"] > 0
    assert found["memory"]["physical_mb"] * (1 << 20) >= found["memory"]["total"]
    assert found["boot"]["current_boot_mode"] in ("bios", "uefi")
    for disk in found["disks"]:
        assert disk["name"].startswith("/dev/") and disk["size"] > 0


def test_a_local_vm_machine_is_its_disk_file_and_macs(tmp_path: pathlib.Path) -> None:
    disk = tmp_path / "disk.img"
    with open(disk, "wb") as f:
        f.truncate(3 << 30)
    macs = ("52:54:00:12:34:56", "52:54:00:12:34:57")
    found = inventory.collect(target=str(disk), macs=macs, bootif=macs[1])
    assert found["disks"] == [{"name": str(disk), "size": 3 << 30, "model": "disk file",
                               "vendor": "", "serial": "", "wwn": "", "rotational": False,
                               "hctl": "", "by_path": ""}]
    assert [i["mac_address"] for i in found["interfaces"]] == list(macs)
    assert found["boot"]["pxe_interface"] == macs[1]
    # What the API accepts.
    received = check({"inventory": found, "error": None})
    assert received.inventory == found and received.plugin_data == {"error": None}


def test_post_retries_a_busy_api() -> None:
    """A 5xx (ingot's 503 while a conductor holds the node) is retried, as IPA does."""
    answers = [(503, b'{"error_message": "busy"}'), (202, b'{"uuid": "n-1"}')]
    seen: list[dict[str, object]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            status, body = answers.pop(0)
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1/continue_inspection"
        found = inventory.collect(macs=("52:54:00:12:34:56",))
        assert inventory.post(url, found, agent_token="t", delay=0.01) == "n-1"
    finally:
        server.shutdown()
    assert len(seen) == 2 and seen[1]["agent_token"] == "t"
    assert seen[1]["inventory"] == found
