"""The conductor's settings, read once from configuration."""

from __future__ import annotations

import dataclasses

from oslo_config import cfg

from ingot.inspection.settings import InspectionSettings


@dataclasses.dataclass(frozen=True, slots=True)
class ConductorSettings:
    host: str
    group: str
    groups: tuple[str, ...]
    hardware_types: tuple[str, ...]
    workers: int = 100
    heartbeat_interval: float = 10.0
    heartbeat_timeout: int = 60
    poll_interval: float = 1.0
    check_interval: float = 30.0
    deploy_callback_timeout: int = 1800
    automated_clean: bool = True
    sync_power_state_interval: float = 60.0
    power_state_sync_max_retries: int = 3
    node_history_max_entries: int = 300
    inspection: InspectionSettings = dataclasses.field(default_factory=InspectionSettings)

    @classmethod
    def from_conf(cls, conf: cfg.ConfigOpts) -> ConductorSettings:
        group = conf.conductor.conductor_group
        groups = tuple(dict.fromkeys([group, *conf.conductor.conductor_groups]))
        return cls(
            host=conf.host,
            group=group,
            groups=groups,
            hardware_types=tuple(conf.enabled_hardware_types),
            workers=conf.conductor.workers_pool_size,
            heartbeat_interval=conf.conductor.heartbeat_interval,
            heartbeat_timeout=conf.conductor.heartbeat_timeout,
            poll_interval=conf.conductor.poll_interval,
            check_interval=conf.conductor.check_provision_state_interval,
            deploy_callback_timeout=conf.conductor.deploy_callback_timeout,
            automated_clean=conf.conductor.automated_clean,
            sync_power_state_interval=conf.conductor.sync_power_state_interval,
            power_state_sync_max_retries=conf.conductor.power_state_sync_max_retries,
            node_history_max_entries=conf.conductor.node_history_max_entries,
            inspection=InspectionSettings.from_conf(conf),
        )
