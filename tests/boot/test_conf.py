"""[pxe] and [deploy] options: Ironic names, defaults, the seed's [ipxe] use_swift."""

from __future__ import annotations

import pathlib

import pytest
from oslo_config import cfg

from ingot import conf as ingot_conf
from ingot.boot.errors import BootConfigError
from ingot.boot.settings import PxeSettings
from ingot.conf import conductor, default, pxe


def load(tmp_path: pathlib.Path, ini: str) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    for module in (default, conductor, pxe):
        module.register(conf)
    path = tmp_path / "ingot.conf"
    path.write_text(ini)
    conf(["--config-file", str(path)], project="ingot-test")
    return conf


def test_defaults_are_ironics(tmp_path: pathlib.Path) -> None:
    conf = load(tmp_path, f"[DEFAULT]\nstate_path = {tmp_path}\n")
    assert conf.pxe.ipxe_use_swift is False
    assert conf.pxe.kernel_append_params == "nofb vga=normal"
    assert conf.pxe.pxe_config_subdir == "pxelinux.cfg"
    assert conf.pxe.ipxe_timeout == 0
    assert conf.pxe.file_permission == 0o644
    assert conf.pxe.boot_retry_timeout is None
    assert conf.deploy.http_root == f"{tmp_path}/httpboot"
    assert conf.deploy.http_url is None


def test_the_seeds_ipxe_use_swift_still_works(tmp_path: pathlib.Path) -> None:
    conf = load(tmp_path, "[ipxe]\nuse_swift = true\n")
    assert conf.pxe.ipxe_use_swift is True
    assert PxeSettings.from_conf(conf).use_swift is True


def test_settings_check_http_url_and_retry_timeout(tmp_path: pathlib.Path) -> None:
    conf = load(tmp_path, "[deploy]\nhttp_url = http://192.0.2.1:8080/\n")
    assert PxeSettings.from_conf(conf).http_url == "http://192.0.2.1:8080"
    https = load(tmp_path, "[deploy]\nhttp_url = https://192.0.2.1/\n")
    with pytest.raises(BootConfigError, match=r"\[deploy\] http_url.*no HTTPS"):
        PxeSettings.from_conf(https)
    late = load(tmp_path, "[pxe]\nboot_retry_timeout = 1800\n")
    with pytest.raises(BootConfigError, match="boot_retry_timeout"):
        PxeSettings.from_conf(late)


def test_options_are_registered_in_ingots_config() -> None:
    assert "ingot.conf.pxe" in ingot_conf.MODULES
    names = {opt.name for group, opts in pxe.list_opts() for opt in opts}
    assert {"ipxe_use_swift", "kernel_append_params", "ipxe_timeout", "pxe_config_subdir",
            "ipxe_boot_script", "ipxe_config_template", "file_permission",
            "dir_permission", "boot_retry_timeout", "http_root", "http_url"} <= names
