#!/usr/bin/env python3
"""[deploy] fast_track: the time a deploy saves by reusing the agent cleaning left
running, instead of rebooting the node into a new one.

    .venv/bin/python -m bench.fast_track [--rounds 3] [--image-mib 64]

Runs `ingot serve` twice (fast_track off, then on) with local-vm nodes (their agent is
an `ingot agent` process, booted by powering on). Each round makes a node available
(manage, provide: cleaning boots the agent) and times the deploy, from the request to
`active`, of a raw image served from a file:// source. Prints the median of each and
the difference: with fast track the deploy skips the power cycle, the agent's start
and its lookup.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pathlib
import statistics
import tempfile
import time
from typing import Any

from tests.servers.ingot import IngotServer

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


def deploy_times(workdir: pathlib.Path, image: pathlib.Path, digest: str, fast_track: bool,
                 rounds: int) -> list[float]:
    server = IngotServer(workdir / f"ingot-{fast_track}", options={
        "local_vm": {"disk_paths": workdir, "agent_heartbeat_interval": 2},
        "deploy": {"fast_track": fast_track},
        "conductor": {"file_url_allowed_paths": image.parent},
    }).start()
    times = []
    try:
        with server.client() as api:
            for number in range(rounds):
                node = api.post("/v1/nodes", json={
                    "driver": "local-vm", "deploy_interface": "direct",
                    "driver_info": {"vm_disk": str(workdir / f"disk-{fast_track}-{number}"),
                                    "vm_disk_size": image.stat().st_size // MiB + 16},
                    "instance_info": {"image_source": image.as_uri(),
                                      "image_os_hash_algo": "sha256",
                                      "image_os_hash_value": digest,
                                      "image_disk_format": "raw"}}).json()
                uuid = node["uuid"]
                mac = f"52:54:00:fa:{int(fast_track):02x}:{number:02x}"
                api.post("/v1/ports", json={"node_uuid": uuid, "address": mac})
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
    finally:
        server.stop()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--image-mib", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ingot-fast-track-") as tmp:
        workdir = pathlib.Path(tmp)
        image = workdir / "images" / "disk.raw"
        image.parent.mkdir()
        data = os.urandom(args.image_mib * MiB)
        image.write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        results = {}
        for fast_track in (False, True):
            results[fast_track] = deploy_times(workdir, image, digest, fast_track,
                                               args.rounds)
    slow, fast = (statistics.median(results[False]), statistics.median(results[True]))
    print(f"deploy after cleaning, {args.image_mib} MiB raw image, median of {args.rounds}:")
    print(f"  fast_track off (power cycle, new agent): {slow:.2f} s "
          f"({', '.join(f'{t:.2f}' for t in results[False])})")
    print(f"  fast_track on (the cleaning's agent):     {fast:.2f} s "
          f"({', '.join(f'{t:.2f}' for t in results[True])})")
    print(f"  saved: {slow - fast:.2f} s per deploy ({(slow - fast) / slow:.0%})")


if __name__ == "__main__":
    main()
