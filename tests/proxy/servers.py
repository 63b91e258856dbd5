"""A real `ingot proxy` process in front of sites the tests started, and the three sites
themselves: two `ingot serve` and one real Ironic, mapped as in ironic-proxy's README
(`_` and `grp2` on loc1, `grp1` on loc2) plus `grp3` on the Ironic site loc3."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import pathlib
from collections.abc import Mapping
from typing import Any

import httpx

from tests.servers.ingot import INGOT, IngotServer, write_config
from tests.servers.ironic import IronicServer
from tests.servers.process import Process, free_port, http_ready, wait_until

GROUPS = "_:loc1,grp1:loc2,grp2:loc1,grp3:loc3"


@dataclasses.dataclass
class Sites:
    loc1: IngotServer  # groups "" and grp2
    loc2: IngotServer  # grp1
    loc3: IronicServer  # grp3

    def urls(self) -> dict[str, str]:
        return {"loc1": self.loc1.url, "loc2": self.loc2.url, "loc3": self.loc3.url}

    def stop(self) -> None:
        for server in (self.loc1, self.loc2, self.loc3):
            server.stop()


def start_sites(workdir: pathlib.Path) -> Sites:
    """Start the three sites at once (Ironic takes the longest) and wait for all."""
    sites = Sites(
        loc1=IngotServer(workdir / "loc1", host="loc1-conductor",
                         options={"conductor": {"conductor_group": "",
                                                "conductor_groups": "grp2"}}),
        loc2=IngotServer(workdir / "loc2", host="loc2-conductor",
                         options={"conductor": {"conductor_group": "grp1"}}),
        loc3=IronicServer(workdir / "loc3", conductor_group="grp3", host="loc3-conductor"))
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(server.start) for server in (sites.loc1, sites.loc2, sites.loc3)]
        try:
            for future in futures:
                future.result()
        except BaseException:
            sites.stop()
            raise
    return sites


def proxy_sections(site_urls: Mapping[str, str], *, groups: str = GROUPS,
                   port: int | None = None,
                   options: Mapping[str, Mapping[str, Any]] | None = None
                   ) -> dict[str, dict[str, Any]]:
    sections: dict[str, dict[str, Any]] = {
        "DEFAULT": {"groups": groups, "debug": "true"},
        "api": {"host_ip": "127.0.0.1", "port": port or free_port(), "auth_strategy": "none"},
        # Fast enough for tests to see a site leave and rejoin within seconds.
        "proxy": {"site_timeout": 5, "down_probe_interval": 0.3, "discovery_interval": 5},
    }
    for name, url in site_urls.items():
        sections[f"group:{name}"] = {"auth_type": "none", "endpoint_override": url}
    for section, values in (options or {}).items():
        sections.setdefault(section, {}).update(values)
    return sections


class ProxyServer:
    """`ingot proxy` with a config written from sections, stopped by PID."""

    def __init__(self, workdir: pathlib.Path, sections: dict[str, dict[str, Any]]):
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.port = int(sections["api"]["port"])
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = write_config(workdir / "proxy.conf", sections)
        self.process: Process | None = None

    def start(self, timeout: float = 30, workers: int = 1) -> ProxyServer:
        self.process = Process([INGOT, "proxy", "--config-file", str(self.config),
                                "--workers", str(workers)],
                               str(self.workdir / "proxy.log"))
        try:
            wait_until(lambda: self._ready(), timeout, "ingot proxy")
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"ingot proxy did not start:\n{self.log()}") from None
        return self

    def _ready(self) -> bool:
        assert self.process is not None
        if not self.process.alive():
            raise RuntimeError(f"ingot proxy exited:\n{self.log()}")
        return http_ready(self.url + "/")()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def log(self) -> str:
        return (self.workdir / "proxy.log").read_text(errors="replace")

    def client(self, version: str = "1.73", **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60,
                            headers={"X-OpenStack-Ironic-API-Version": version}, **kwargs)
