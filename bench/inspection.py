#!/usr/bin/env python3
"""Inspection wall time, ingot's agent beside the stock ironic-python-agent 13.

    .venv/bin/python -m bench.inspection [--rounds 2]

Runs `ingot serve` with a local-vm node and times `inspect`, from the request to
`manageable` with properties, ports and the stored inventory: once booting ingot's own
agent, once the stock IPA in a network namespace over a loop device (as tests/ipa/ run
it; needs root). Each round powers the agent on, lets it collect and post its
inventory, processes it and powers off. Prints the median of each and their ratio.
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import tempfile
import time

import httpx

from tests import factories
from tests.ipa import machine
from tests.ipa.test_agent_boots import ingot_site, provision
from tests.servers import venvs

DISK_MIB = 5 * 1024
HEADERS = {"X-OpenStack-Ironic-API-Version": "1.81"}


def _node(api: httpx.Client, disk: pathlib.Path, mac: str) -> str:
    node = api.post("/v1/nodes", json={
        "driver": "local-vm", "driver_info": {"vm_disk": str(disk),
                                              "vm_disk_size": DISK_MIB}}).json()
    api.post("/v1/ports", json={"node_uuid": node["uuid"], "address": mac})
    return str(node["uuid"])


def _rounds(api: httpx.Client, server: object, uuid: str, rounds: int) -> list[float]:
    times = []
    provision(api, server, uuid, "manage", ("manageable",))  # type: ignore[arg-type]
    for _ in range(rounds):
        started = time.monotonic()
        node = provision(api, server, uuid, "inspect",  # type: ignore[arg-type]
                         ("manageable", "inspect failed"))
        times.append(time.monotonic() - started)
        assert node["provision_state"] == "manageable", node["last_error"]
        assert api.get(f"/v1/nodes/{uuid}/inventory").status_code == 200
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="ingot-bench-inspection-") as tmp:
        work = pathlib.Path(tmp) / "ingot-agent"
        server = ingot_site(work, work)
        try:
            with httpx.Client(base_url=server.url, timeout=30, trust_env=False,
                              headers=HEADERS) as api:
                uuid = _node(api, work / "vms" / "disk.img", factories.mac())
                results["ingot agent"] = _rounds(api, server, uuid, args.rounds)
        finally:
            server.stop()
        machine.check_tools()
        ipa = venvs.ensure("ironic-python-agent", [machine.IPA_REQUIREMENT])
        work = pathlib.Path(tmp) / "ipa"
        (work / "vms").mkdir(parents=True)
        (work / "machine").mkdir()
        mac = factories.mac()
        with machine.machine(work / "vms" / "disk.img", DISK_MIB, mac) as box:
            server = ingot_site(work, work, host_ip=box.host_ip, agent_command=machine.ipa_command(
                ipa / "bin" / "python", box, work / "machine", auto_tls=False))
            try:
                with httpx.Client(base_url=server.url, timeout=30, trust_env=False,
                                  headers=HEADERS) as api:
                    uuid = _node(api, box.disk_file, mac)
                    results["ironic-python-agent 13"] = _rounds(api, server, uuid,
                                                                args.rounds)
            finally:
                server.stop()
    for name, times in results.items():
        print(f"{name:24} inspect -> manageable: median {statistics.median(times):5.1f} s "
              f"({', '.join(f'{t:.1f}' for t in times)})")
    ingot, ipa_median = (statistics.median(t) for t in results.values())
    print(f"ingot's agent takes {ingot / ipa_median:.2f}x the time of IPA")


if __name__ == "__main__":
    main()
