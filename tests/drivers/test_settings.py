"""drivers/settings.py and drivers/services.py: options read once, resources built once."""

from __future__ import annotations

import pathlib
import threading
import time

import pytest

from ingot.drivers.services import Once, Services
from ingot.drivers.settings import DriverSettings
from tests.swift.confs import make_conf


def test_endpoints_default_to_where_ingot_listens(tmp_path: pathlib.Path) -> None:
    conf = make_conf(tmp_path, {"DEFAULT": {"state_path": str(tmp_path)},
                                "api": {"host_ip": "0.0.0.0", "port": 7000},
                                "deploy": {"http_port": 7001}})
    settings = DriverSettings.from_conf(conf)
    assert settings.endpoints.api_url == "http://127.0.0.1:7000"
    assert settings.endpoints.http_url == "http://127.0.0.1:7001"
    assert settings.endpoints.ramdisk_params == {"ipa-api-url": "http://127.0.0.1:7000"}
    assert settings.state_path == tmp_path
    assert settings.local_vm.disk_paths == (tmp_path / "vms",)


def test_endpoints_configured_and_ipv6(tmp_path: pathlib.Path) -> None:
    conf = make_conf(tmp_path, {"api": {"host_ip": "fd00::5", "port": 7000},
                                "conductor": {"api_url": "https://ingot.example.com/"},
                                "agent": {"image_download_source": "http",
                                          "allow_md5_checksum": True}})
    settings = DriverSettings.from_conf(conf)
    assert settings.endpoints.api_url == "https://ingot.example.com"
    assert settings.endpoints.http_url == "http://[fd00::5]:6386"
    assert (settings.agent.image_download_source, settings.agent.allow_md5) == ("http", True)


def test_node_history_max_entries_reaches_the_drivers(tmp_path: pathlib.Path) -> None:
    """Drivers that record history themselves (ramdisk_exit) prune to the same cap."""
    assert DriverSettings.from_conf(make_conf(tmp_path, {})).node_history_max_entries == 300
    conf = make_conf(tmp_path, {"conductor": {"node_history_max_entries": 3}})
    assert DriverSettings.from_conf(conf).node_history_max_entries == 3


def test_a_resource_is_built_once_for_every_thread() -> None:
    built: list[int] = []

    def build() -> int:
        time.sleep(0.05)  # long enough for the other threads to ask meanwhile
        built.append(1)
        return len(built)

    once = Once(build)
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(once.get())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert results == [1] * 8 and built == [1]


def test_a_failed_build_is_tried_again() -> None:
    attempts: list[int] = []

    def build() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise ValueError("contradictory options")
        return "built"

    once = Once(build)
    with pytest.raises(ValueError, match="contradictory options"):
        once.get()
    assert once.get() == "built"
    assert len(attempts) == 2


def test_services_without_a_resource_say_which(tmp_path: pathlib.Path) -> None:
    services = Services(DriverSettings(), db=None)  # type: ignore[arg-type]
    assert services.glance is None  # Glance references then fail saying it is not set up
    with pytest.raises(RuntimeError, match="the image cache is not available"):
        _ = services.image_cache
    with pytest.raises(RuntimeError, match="Swift is not available"):
        _ = services.swift
