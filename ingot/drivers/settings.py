"""What drivers need to know of the configuration, read once and handed in.

The CLI runtime builds these from the options (``DriverSettings.from_conf``); the API gets
them for ``validate``, conductors through the services on each task. Nothing under
drivers/ reads the global CONF.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from collections.abc import Mapping

from oslo_config import cfg

from ingot.images.proxies import InvalidProxySetting, ProxyPolicy

DOWNLOAD_SOURCES = ("direct", "swift", "http", "local")  # local: Ironic's name for http
# Every kind of hardware interface, as in Ironic (drivers/interfaces.py re-exports it).
INTERFACE_KINDS = (
    "bios", "boot", "console", "deploy", "firmware", "inspect", "management", "network",
    "power", "raid", "rescue", "storage", "vendor",
)


@dataclasses.dataclass(frozen=True, slots=True)
class AgentSettings:
    """[agent]: how images reach the agent and how ingot talks to it."""

    image_download_source: str = "direct"
    allow_md5: bool = False
    stream_raw_images: bool = True
    command_timeout: float = 60.0
    verify_ca: str = "True"
    post_deploy_get_power_state_retries: int = 6
    post_deploy_get_power_state_retry_interval: float = 5.0


@dataclasses.dataclass(frozen=True, slots=True)
class DeploySettings:
    """[deploy]: fast track and the priorities of the agent's erase steps."""

    fast_track: bool = False
    fast_track_timeout: int = 300
    erase_devices_priority: int | None = None
    erase_devices_metadata_priority: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Endpoints:
    """Where machines reach ingot: the API for agents, the HTTP root for firmware."""

    api_url: str = "http://127.0.0.1:6385"
    http_url: str = "http://127.0.0.1:6386"
    http_root: pathlib.Path = pathlib.Path("/var/lib/ingot/httpboot")
    # Where BMCs fetch virtual media from; http_url when empty.
    external_http_url: str = ""

    @property
    def ramdisk_params(self) -> dict[str, str]:
        """Kernel parameters of the agent ramdisk: where the Bare Metal API is."""
        return {"ipa-api-url": self.api_url}


@dataclasses.dataclass(frozen=True, slots=True)
class LocalVmSettings:
    """[local_vm]: virtual nodes whose disk is a file on this host."""

    disk_paths: tuple[pathlib.Path, ...] = ()
    default_disk_size: int = 1024
    agent_heartbeat_interval: float = 2.0
    agent_command: str = ""
    qemu_accel: str = "tcg"  # qemu-vm machines: tcg or kvm


@dataclasses.dataclass(frozen=True, slots=True)
class BmcSettings:
    """[redfish] and [ipmi]: how ingot talks to BMCs."""

    auth_type: str = "auto"
    connection_attempts: int = 5
    connection_retry_interval: float = 4.0
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    power_state_change_timeout: float = 60.0
    ipmi_command_timeout: float = 10.0


@dataclasses.dataclass(frozen=True, slots=True)
class InterfaceSettings:
    """[DEFAULT] enabled_<kind>_interfaces and default_<kind>_interface, as in Ironic.

    A kind without an enabled list allows every implementation ingot has; without a
    default, a node gets the first enabled one its hardware type supports.
    """

    enabled: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    defaults: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def allowed(self, kind: str) -> tuple[str, ...] | None:
        return self.enabled.get(kind)

    def default(self, kind: str) -> str | None:
        return self.defaults.get(kind)

    @classmethod
    def from_conf(cls, conf: cfg.ConfigOpts, kinds: tuple[str, ...]) -> InterfaceSettings:
        enabled = {kind: tuple(conf[f"enabled_{kind}_interfaces"]) for kind in kinds
                   if conf[f"enabled_{kind}_interfaces"] is not None}
        defaults = {kind: conf[f"default_{kind}_interface"] for kind in kinds
                    if conf[f"default_{kind}_interface"]}
        return cls(enabled=enabled, defaults=defaults)


@dataclasses.dataclass(frozen=True, slots=True)
class DriverSettings:
    agent: AgentSettings = AgentSettings()
    deploy: DeploySettings = DeploySettings()
    endpoints: Endpoints = Endpoints()
    state_path: pathlib.Path = pathlib.Path("/var/lib/ingot")
    local_vm: LocalVmSettings = LocalVmSettings()
    bmc: BmcSettings = BmcSettings()
    # The conductor's own http(s) proxies (its environment's http_proxy, https_proxy,
    # no_proxy); a node's image_http_proxy... are its agent's.
    conductor_proxies: ProxyPolicy = dataclasses.field(default_factory=ProxyPolicy)
    interfaces: InterfaceSettings = InterfaceSettings()
    # [conductor] node_history_max_entries, for history a driver records itself.
    node_history_max_entries: int = 300

    @classmethod
    def from_conf(cls, conf: cfg.ConfigOpts) -> DriverSettings:
        agent = conf.agent
        return cls(
            agent=AgentSettings(image_download_source=agent.image_download_source,
                                allow_md5=agent.allow_md5_checksum,
                                stream_raw_images=agent.stream_raw_images,
                                command_timeout=agent.command_timeout,
                                verify_ca=agent.verify_ca,
                                post_deploy_get_power_state_retries=(
                                    agent.post_deploy_get_power_state_retries),
                                post_deploy_get_power_state_retry_interval=(
                                    agent.post_deploy_get_power_state_retry_interval)),
            deploy=DeploySettings(
                fast_track=conf.deploy.fast_track,
                fast_track_timeout=conf.deploy.fast_track_timeout,
                erase_devices_priority=conf.deploy.erase_devices_priority,
                erase_devices_metadata_priority=conf.deploy.erase_devices_metadata_priority),
            endpoints=_endpoints(conf),
            state_path=_path(conf.state_path),
            local_vm=LocalVmSettings(
                disk_paths=tuple(_path(p) for p in conf.local_vm.disk_paths),
                default_disk_size=conf.local_vm.default_disk_size,
                agent_heartbeat_interval=conf.local_vm.agent_heartbeat_interval,
                agent_command=conf.local_vm.agent_command,
                qemu_accel=conf.local_vm.qemu_accel),
            bmc=BmcSettings(
                auth_type=conf.redfish.auth_type,
                connection_attempts=conf.redfish.connection_attempts,
                connection_retry_interval=conf.redfish.connection_retry_interval,
                connect_timeout=conf.redfish.connect_timeout,
                read_timeout=conf.redfish.read_timeout,
                power_state_change_timeout=conf.conductor.power_state_change_timeout,
                ipmi_command_timeout=conf.ipmi.command_retry_timeout),
            conductor_proxies=_environment_proxies(),
            interfaces=InterfaceSettings.from_conf(conf, INTERFACE_KINDS),
            node_history_max_entries=conf.conductor.node_history_max_entries)


def _environment_proxies() -> ProxyPolicy:
    try:
        return ProxyPolicy.from_environment()
    except InvalidProxySetting as exc:
        raise cfg.Error(f"the environment's proxy settings: {exc}") from None


def _path(value: str) -> pathlib.Path:
    return pathlib.Path(os.path.expanduser(value))


def _endpoints(conf: cfg.ConfigOpts) -> Endpoints:
    """[conductor] api_url and [deploy] http_url, else the addresses ingot listens on
    (loopback for a wildcard)."""
    host = conf.api.host_ip
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    api_url = conf.conductor.api_url or f"http://{host}:{conf.api.port}"
    http_url = conf.deploy.http_url or f"http://{host}:{conf.deploy.http_port}"
    return Endpoints(api_url=str(api_url).rstrip("/"), http_url=str(http_url).rstrip("/"),
                     http_root=_path(conf.deploy.http_root),
                     external_http_url=str(conf.deploy.external_http_url or http_url).rstrip("/"))
