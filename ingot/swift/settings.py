"""The Swift settings ingot uses, read once from configuration and checked."""

from __future__ import annotations

import dataclasses
import logging

from oslo_config import cfg

from ingot.swift.errors import SwiftConfigError

LOG = logging.getLogger(__name__)

MIN_REUSE_MARGIN = 60
_warned: set[tuple[str, int, int]] = set()


@dataclasses.dataclass(frozen=True, slots=True)
class TempURLSettings:
    """[glance] temp URL options (plus [swift] temp_url_digest), resolved."""

    endpoint_url: str | None
    account: str | None
    account_prefix: str
    container: str
    api_version: str
    containers_seed: int
    key: str | None = dataclasses.field(repr=False)
    digest: str
    cache_enabled: bool
    lifetime: int  # seconds each new URL is valid
    start_delay: int  # seconds the node may take to start downloading
    reuse_margin: int  # seconds a reused URL must outlive the start delay by

    @classmethod
    def from_conf(cls, conf: cfg.ConfigOpts) -> TempURLSettings:
        glance = conf.glance
        cache_enabled = glance.swift_temp_url_cache_enabled or glance.swift_temp_url_cachetime > 0
        lifetime = glance.swift_temp_url_cachetime or glance.swift_temp_url_duration
        start_delay = glance.swift_temp_url_expected_download_start_delay
        margin = glance.swift_temp_url_reuse_margin
        if margin is None:
            margin = max(MIN_REUSE_MARGIN, lifetime // 10)
        lifetime_name = ("[glance] swift_temp_url_cachetime" if glance.swift_temp_url_cachetime
                         else "[glance] swift_temp_url_duration")
        if lifetime < start_delay:
            raise SwiftConfigError(
                f"{lifetime_name} ({lifetime}) must be at least [glance] "
                f"swift_temp_url_expected_download_start_delay ({start_delay}), otherwise "
                f"the Swift temporary URL may expire before the download starts.")
        if cache_enabled and lifetime <= start_delay + margin:
            raise SwiftConfigError(
                f"with the temporary URL cache enabled, {lifetime_name} ({lifetime}) must "
                f"exceed [glance] swift_temp_url_expected_download_start_delay "
                f"({start_delay}) plus [glance] swift_temp_url_reuse_margin ({margin}), "
                f"otherwise no cached URL could ever be reused.")
        # A new URL must still be usable by the last node it is handed to: it is reused
        # while it has start delay + margin left, so it needs that much on top of one
        # more start delay + margin. Said once, not done silently.
        needed = start_delay + 2 * margin
        if lifetime < needed:
            warning = (lifetime_name, lifetime, needed)
            if warning not in _warned:
                _warned.add(warning)
                LOG.warning("%s is %d s; temporary URLs are made valid for %d s instead: "
                            "[glance] swift_temp_url_expected_download_start_delay (%d s) "
                            "plus twice swift_temp_url_reuse_margin (%d s), so that a "
                            "URL handed out just before it stops being reused still "
                            "outlives the node's download start", lifetime_name, lifetime,
                            needed, start_delay, margin)
            lifetime = needed
        return cls(
            endpoint_url=glance.swift_endpoint_url or None,
            account=glance.swift_account or None,
            account_prefix=glance.swift_account_prefix or "",
            container=glance.swift_container,
            api_version=glance.swift_api_version,
            containers_seed=glance.swift_store_multiple_containers_seed,
            key=glance.swift_temp_url_key or None,
            digest=conf.swift.temp_url_digest,
            cache_enabled=cache_enabled,
            lifetime=lifetime,
            start_delay=start_delay,
            reuse_margin=margin,
        )


@dataclasses.dataclass(frozen=True, slots=True)
class ConfigDriveSettings:
    """Where config drives go in Swift and how long they live there."""

    use_object_store: bool
    container: str
    ttl: int

    @classmethod
    def from_conf(cls, conf: cfg.ConfigOpts) -> ConfigDriveSettings:
        ttl = conf.conductor.configdrive_swift_temp_url_duration
        if ttl is None:
            # As Ironic: long enough for the agent to call back and write the drive.
            callback = conf.conductor.deploy_callback_timeout
            ttl = callback + 120 if callback else 1800
        return cls(use_object_store=conf.deploy.configdrive_use_object_store,
                   container=conf.conductor.configdrive_swift_container, ttl=ttl)
