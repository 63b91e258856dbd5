"""The demo's steps: a service to talk to, an image to serve, a node to deploy."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import os
import pathlib
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx

from ingot.demo import image
from ingot.demo.progress import MIB, Line, bar

HEADERS = {"X-OpenStack-Ironic-API-Version": "1.73"}
USER_DATA = "hello from the ingot demo"


def say(text: str) -> None:
    print(text, flush=True)


@contextlib.contextmanager
def service(endpoint: str, config_args: list[str], log_path: pathlib.Path) -> Iterator[bool]:
    """Use the ingot answering at endpoint, or start `ingot serve` for the demo (True)."""
    try:
        root = httpx.get(endpoint + "/", timeout=2)
        if root.status_code == 200 and "ingot" in root.text:
            say(f"Using the ingot service already running at {endpoint}")
            yield False
            return
        raise SystemExit(f"Something that is not ingot answers at {endpoint}; stop it or "
                         f"pass --config-file with another [api] port.")
    except httpx.TransportError:
        pass
    say(f"Starting `ingot serve` on its embedded defaults ({endpoint}; log: {log_path})")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "ingot", "serve", *config_args],
                                   stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(endpoint + "/", timeout=1).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"ingot serve did not start; see {log_path}")
            time.sleep(0.1)
        yield True
    finally:
        say("Stopping the `ingot serve` the demo started")
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(15)


@contextlib.contextmanager
def image_server(directory: pathlib.Path) -> Iterator[str]:
    """Serve directory over HTTP on a free loopback port."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def wait_state(api: httpx.Client, uuid: str, wanted: str, line: Line | None = None,
               timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        node: dict[str, Any] = api.get(f"/v1/nodes/{uuid}").json()
        if line is not None:
            progress = node["driver_internal_info"].get("agent_progress")
            if progress and progress.get("command_name") == "standby.prepare_image":
                line.show(bar(progress))
            else:
                line.show(f"  {node['provision_state']} ...")
        if node["provision_state"] == wanted:
            return node
        if "fail" in node["provision_state"] or node["provision_state"] == "error":
            raise SystemExit(f"\nNode {uuid} is in {node['provision_state']}: "
                             f"{node['last_error']}")
        time.sleep(0.2)
    raise SystemExit(f"Node {uuid} did not reach {wanted} within {timeout:.0f} s")


def provision(api: httpx.Client, uuid: str, target: str, wanted: str,
              line: Line | None = None, body: dict[str, Any] | None = None
              ) -> dict[str, Any]:
    response = api.put(f"/v1/nodes/{uuid}/states/provision",
                       json={"target": target, **(body or {})})
    if response.status_code != 202:
        raise SystemExit(f"{target} was refused: {response.text}")
    return wait_state(api, uuid, wanted, line)


def demo(endpoint: str, state_path: pathlib.Path, size_mib: int, started_service: bool,
         keep: bool = False) -> int:
    """Deploy a generated image onto a new local-vm node and show what landed; then
    remove the node and its disk file unless keep."""
    work = state_path / "demo"
    vms = state_path / "vms"
    work.mkdir(parents=True, exist_ok=True)
    vms.mkdir(parents=True, exist_ok=True)
    say(f"Generating a {size_mib} MiB bootable raw disk image")
    data = image.build(size_mib)
    image_file = work / f"demo-{secrets.token_hex(3)}.raw"
    image_file.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    name = f"ingot-demo-{secrets.token_hex(3)}"
    disk = vms / f"{name}.img"
    uuid: str | None = None
    deployed = False

    with image_server(work) as origin, httpx.Client(base_url=endpoint, headers=HEADERS,
                                                     timeout=30) as api:
        try:
            say(f"Serving it at {origin}/{image_file.name}; creating local-vm node {name}")
            created = api.post("/v1/nodes", json={
                "name": name, "driver": "local-vm", "deploy_interface": "direct",
                "driver_info": {"vm_disk": str(disk), "vm_disk_size": size_mib * 2},
                "instance_info": {"image_source": f"{origin}/{image_file.name}",
                                  "image_os_hash_algo": "sha256",
                                  "image_os_hash_value": digest,
                                  "image_disk_format": "raw"}})
            if created.status_code != 201:
                raise SystemExit(f"Creating the node failed: {created.text}")
            uuid = created.json()["uuid"]
            mac = "52:54:00:" + ":".join(f"{b:02x}" for b in os.urandom(3))
            api.post("/v1/ports", json={"node_uuid": uuid, "address": mac}
                     ).raise_for_status()
            began = time.monotonic()
            line = Line()
            for target, wanted in (("manage", "manageable"), ("provide", "available")):
                say(f"{target}: the node goes to {wanted}")
                provision(api, uuid, target, wanted, line)
                line.end()
            say(f"deploy: the agent downloads, verifies and writes the image, then a "
                f"config drive (hostname {name}, user_data {USER_DATA!r})")
            deploy_started = time.monotonic()
            node = provision(api, uuid, "active", "active", line, body={
                "configdrive": {"meta_data": {"hostname": name}, "user_data": USER_DATA}})
            deployed = True
            line.end()
            deployed_in = time.monotonic() - deploy_started

            written = disk.read_bytes()
            landed = written[:len(data)]
            # The partition table now lists the config drive too; the rest is as sent.
            matches = landed[image.SECTOR:] == data[image.SECTOR:] \
                and landed[:image.TABLE] == data[:image.TABLE]
            say(f"\nNode {name} ({uuid}) is {node['provision_state']} after "
                f"{time.monotonic() - began:.1f} s (deploy {deployed_in:.1f} s, "
                f"{len(data) / MIB / deployed_in:.0f} MiB/s end to end)")
            say(f"Disk file {disk}:")
            for part in image.partitions(written):
                start = int(part["start"]) * image.SECTOR
                label = image.iso_label(written[start:start + 64 * 1024])
                size = int(part["sectors"]) * image.SECTOR
                say(f"  partition {part['number']}: type 0x{part['type']:02x}"
                    f"{' (bootable)' if part['bootable'] else ''}, start sector "
                    f"{part['start']}, "
                    + (f"{size / MIB:.0f} MiB" if size >= MIB else f"{size >> 10} KiB")
                    + (f", ISO 9660 labelled {label}: the config drive" if label else ""))
            say(f"  the first {size_mib} MiB {'match' if matches else 'DIFFER FROM'} the "
                f"image (sha256 {digest[:16]}...), apart from the partition table entry "
                f"the config drive added")
        finally:
            image_file.unlink(missing_ok=True)
            if uuid is not None and not keep:
                remove(api, uuid, name, disk, deployed)

    if keep:
        look = f"OS_ENDPOINT={endpoint} OS_AUTH_TYPE=none baremetal node show {name}"
        if started_service:
            say("\nThe demo stops the service it started; the node stays in its database "
                f"(--keep). Run `ingot serve` and look at it with:\n  {look}")
        else:
            say(f"\nLook at it with:  {look}")
    return 0 if matches else 1


def remove(api: httpx.Client, uuid: str, name: str, disk: pathlib.Path,
            deployed: bool) -> None:
    """Undeploy (the agent wipes the disk's metadata) and delete the node, then its disk
    file; after a failure, delete it through maintenance. Best effort: says what is
    left if it cannot."""
    say(f"\nRemoving node {name} and its disk file (--keep keeps them)")
    try:
        if deployed:
            provision(api, uuid, "deleted", "available")
            provision(api, uuid, "manage", "manageable")
        else:
            api.put(f"/v1/nodes/{uuid}/maintenance", json={"reason": "ingot demo clean-up"})
        response = api.delete(f"/v1/nodes/{uuid}")
        if response.status_code != 204:
            raise SystemExit(f"deleting it was refused: {response.text}")
    except (SystemExit, httpx.HTTPError) as exc:
        say(f"Could not remove node {name} ({exc}); its disk file stays at {disk}")
        return
    disk.unlink(missing_ok=True)
