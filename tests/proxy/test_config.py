"""A configuration that cannot work stops `ingot proxy` at once with a message saying what
to change (it needs no site to find that out)."""

from __future__ import annotations

import pathlib
import subprocess
from typing import Any

import pytest

from tests.proxy.servers import proxy_sections
from tests.servers.ingot import INGOT, write_config


def _start(tmp_path: pathlib.Path, sections: dict[str, dict[str, Any]]
           ) -> subprocess.CompletedProcess[str]:
    config = write_config(tmp_path / "proxy.conf", sections)
    return subprocess.run([INGOT, "proxy", "--config-file", str(config)],
                          capture_output=True, text=True, timeout=60)


def _sections(**changes: dict[str, Any]) -> dict[str, dict[str, Any]]:
    sections = proxy_sections({"loc1": "http://127.0.0.1:9"}, groups="_:loc1")
    for section, values in changes.items():
        sections.setdefault(section, {}).update(values)
    return sections


def test_group_mapped_to_undefined_site(tmp_path: pathlib.Path) -> None:
    result = _start(tmp_path, _sections(DEFAULT={"groups": "_:loc1,grp1:loc2"}))
    assert result.returncode == 2
    assert ("[DEFAULT] groups maps conductor group 'grp1' to site 'loc2', but the "
            "configuration has no [group:loc2] section") in result.stderr
    assert "Traceback" not in result.stderr


def test_no_groups(tmp_path: pathlib.Path) -> None:
    sections = _sections()
    del sections["DEFAULT"]["groups"]
    result = _start(tmp_path, sections)
    assert result.returncode == 2
    assert "No conductor groups are mapped to sites: set [DEFAULT] groups" in result.stderr


@pytest.mark.parametrize("site,message", [
    ({"auth_type": "none", "endpoint_override": ""},
     "[group:loc1] uses auth_type = none but sets no endpoint_override"),
    ({"auth_type": "", "endpoint_override": "http://127.0.0.1:9"},
     "[group:loc1] sets no auth_type"),
    ({"auth_type": "none", "endpoint_override": "ftp://127.0.0.1:9"},
     "is not an http(s) URL"),
])
def test_site_that_cannot_be_reached(tmp_path: pathlib.Path, site: dict[str, str],
                                     message: str) -> None:
    sections = _sections()
    sections["group:loc1"] = site
    result = _start(tmp_path, sections)
    assert result.returncode == 2
    assert message in result.stderr


def test_keystone_by_default_needs_keystone_authtoken(tmp_path: pathlib.Path) -> None:
    # ironic-proxy's default strategy is keystone; a config written for it without
    # [api] auth_strategy must not silently run without authentication.
    sections = _sections()
    del sections["api"]["auth_strategy"]
    result = _start(tmp_path, sections)
    assert result.returncode == 2
    assert "[api] auth_strategy = keystone (the default) needs [keystone_authtoken]" \
        in result.stderr


def test_malformed_groups_value(tmp_path: pathlib.Path) -> None:
    result = _start(tmp_path, _sections(DEFAULT={"groups": "_:loc1,grp1"}))
    assert result.returncode == 2
    assert "configuration error" in result.stderr
    assert "groups" in result.stderr
