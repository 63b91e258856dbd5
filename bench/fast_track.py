#!/usr/bin/env python3
"""[deploy] fast_track: the time a deploy saves by reusing the agent cleaning left
running, instead of rebooting the node into a new one.

    .venv/bin/python -m bench.fast_track [--rounds 3] [--image-mib 64] [--agent ipa]

Runs `ingot serve` twice (fast_track off, then on) with local-vm nodes, whose agent is
an `ingot agent` process booted by powering on, or with --agent ipa the stock
ironic-python-agent 13 in a network namespace writing to a loop device (as
tests/ipa/ run it). Each round makes a node available
(manage, provide: cleaning boots the agent) and times the deploy, from the request to
`active`, of a raw image served from a file:// source. Prints the median of each and
the difference: with fast track the deploy skips the power cycle, the agent's start
and its lookup.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import os
import pathlib
import statistics
import tempfile
import time
from collections.abc import Iterator
from typing import Any

from tests.configdrive.disks import make_disk
from tests.ipa import machine
from tests.servers import venvs
from tests.servers.ingot import IngotServer
from tests.servers.process import free_port

MiB = 1 << 20


def wait_for(api: Any, uuid: str, states: tuple[str, ...], timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        node: dict[str, Any] = api.get(f"/v1/nodes/{uuid}").json()
        if node["provision_state"] in states:
            return node
        time.sleep(0.02)
    raise RuntimeError(f"node {uuid} stuck in {node['provision_state']}: {node['last_error']}")


def provision(api: Any, uuid: str, target: str, states: tuple[str, ...]) -> dict[str, Any]:
    response = api.put(f"/v1/nodes/{uuid}/states/provision", json={"target": target})
    if response.status_code != 202:
        raise RuntimeError(response.text)
    return wait_for(api, uuid, states)


def power_off(api: Any, uuid: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while (response := api.put(f"/v1/nodes/{uuid}/states/power",
                               json={"target": "power off"})).status_code == 409:
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    if response.status_code != 202:
        raise RuntimeError(response.text)
    while api.get(f"/v1/nodes/{uuid}").json()["target_power_state"]:
        if time.monotonic() > deadline:
            raise RuntimeError(f"node {uuid} did not power off")
        time.sleep(0.1)


def delete_node(api: Any, uuid: str, timeout: float = 30) -> None:
    """Delete, retrying while the conductor that finished the cleaning still holds it."""
    deadline = time.monotonic() + timeout
    while (response := api.delete(f"/v1/nodes/{uuid}")).status_code == 409:
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    if response.status_code != 204:
        raise RuntimeError(response.text)


@dataclasses.dataclass(frozen=True)
class Site:
    """Where the nodes' agents run: ingot's own agent on this host, or the stock IPA on a
    test machine (a network namespace and a loop device, tests/ipa/machine.py)."""

    host_ip: str = "127.0.0.1"
    agent_command: str = ""
    box: machine.Machine | None = None

    def node(self, workdir: pathlib.Path, number: int, size_mib: int
             ) -> tuple[dict[str, Any], str]:
        if self.box is None:
            return ({"vm_disk": str(workdir / "vms" / f"disk-{number}"),
                     "vm_disk_size": size_mib}, f"52:54:00:fa:00:{number:02x}")
        # IPA's standby.power_off would power off this host: flush, then power off.
        return ({"vm_disk": str(self.box.disk_file), "vm_disk_size": size_mib,
                 "deploy_forces_oob_reboot": True}, self.box.mac)


def deploy_times(workdir: pathlib.Path, site: Site, image: pathlib.Path, digest: str,
                 fast_track: bool, rounds: int) -> list[float]:
    port = free_port()
    server = IngotServer(workdir / f"ingot-{fast_track}", options={
        "api": {"host_ip": site.host_ip, "port": port},
        "local_vm": {"disk_paths": workdir / "vms", "agent_heartbeat_interval": 2,
                     "agent_command": site.agent_command},
        "deploy": {"fast_track": fast_track, "http_port": free_port(),
                   "erase_devices_priority": 0},
        "conductor": {"file_url_allowed_paths": image.parent},
    })
    server.url = f"http://{site.host_ip}:{port}"
    server.start()
    size_mib = image.stat().st_size // MiB + 16
    times = []
    try:
        with server.client(trust_env=False) as api:
            for number in range(rounds):
                driver_info, mac = site.node(workdir, number, size_mib)
                node = api.post("/v1/nodes", json={
                    "driver": "local-vm", "deploy_interface": "direct",
                    "driver_info": driver_info,
                    "instance_info": {"image_source": image.as_uri(),
                                      "image_os_hash_algo": "sha256",
                                      "image_os_hash_value": digest,
                                      "image_disk_format": "raw"}}).json()
                uuid = node["uuid"]
                created = api.post("/v1/ports", json={"node_uuid": uuid, "address": mac})
                if created.status_code != 201:
                    raise RuntimeError(created.text)
                provision(api, uuid, "manage", ("manageable",))
                if provision(api, uuid, "provide", ("available", "clean failed")
                             )["provision_state"] != "available":
                    raise RuntimeError(api.get(f"/v1/nodes/{uuid}").json()["last_error"])
                started = time.monotonic()
                done = provision(api, uuid, "active", ("active", "deploy failed"))
                if done["provision_state"] != "active":
                    raise RuntimeError(done["last_error"])
                times.append(time.monotonic() - started)
                provision(api, uuid, "deleted", ("available", "clean failed"))
                # With fast track the cleaning left the agent running: stop it, as the
                # next node boots its own on the same machine.
                power_off(api, uuid)
                provision(api, uuid, "manage", ("manageable",))
                delete_node(api, uuid)  # its port's MAC is the next node's
    finally:
        server.stop()
    return times


@contextlib.contextmanager
def agent_site(agent: str, workdir: pathlib.Path, size_mib: int) -> Iterator[Site]:
    if agent == "ingot":
        yield Site()
        return
    venv = venvs.ensure("ironic-python-agent", [machine.IPA_REQUIREMENT])
    run_dir = workdir / "machine"
    run_dir.mkdir()
    with machine.machine(workdir / "vms" / "ipa-disk", size_mib,
                         "52:54:00:fa:01:01") as box:
        yield Site(box.host_ip, machine.ipa_command(venv / "bin" / "python", box, run_dir),
                   box)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--image-mib", type=int, default=64)
    parser.add_argument("--agent", choices=("ingot", "ipa"), default="ingot",
                        help="ingot's agent, or the stock ironic-python-agent 13 (root: "
                             "a network namespace and a loop device)")
    parser.add_argument("--work-dir", help="keep the servers' state and logs here (an "
                                           "empty directory; default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ingot-fast-track-") as tmp:
        workdir = pathlib.Path(args.work_dir or tmp)
        (workdir / "vms").mkdir()
        image = workdir / "images" / "disk.raw"
        image.parent.mkdir()
        # A partitioned disk (IPA checks that what it wrote has a partition table).
        make_disk(image, args.image_mib * MiB, "start=2048, type=83\n", label="dos")
        with open(image, "r+b") as disk:
            disk.seek(MiB)
            disk.write(os.urandom((args.image_mib - 1) * MiB))
        digest = hashlib.sha256(image.read_bytes()).hexdigest()
        results = {}
        with agent_site(args.agent, workdir, args.image_mib + 16) as site:
            for fast_track in (False, True):
                results[fast_track] = deploy_times(workdir, site, image, digest, fast_track,
                                                   args.rounds)
    slow, fast = (statistics.median(results[False]), statistics.median(results[True]))
    print(f"deploy after cleaning, {args.agent} agent, {args.image_mib} MiB raw image, "
          f"median of {args.rounds}:")
    print(f"  fast_track off (power cycle, new agent): {slow:.2f} s "
          f"({', '.join(f'{t:.2f}' for t in results[False])})")
    print(f"  fast_track on (the cleaning's agent):     {fast:.2f} s "
          f"({', '.join(f'{t:.2f}' for t in results[True])})")
    print(f"  saved: {slow - fast:.2f} s per deploy ({(slow - fast) / slow:.0%})")


if __name__ == "__main__":
    main()
