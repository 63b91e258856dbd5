"""What an operator sees when `ingot` cannot start: one line naming what to change,
a non-zero exit code and no traceback."""

from __future__ import annotations

import pathlib
import socket
import subprocess
from collections.abc import Iterator

import pytest

from tests.proxy.servers import proxy_sections
from tests.servers.ingot import INGOT, IngotServer, write_config
from tests.servers.process import free_port


def ingot(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([INGOT, *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The last stderr line, after checking it failed without a traceback."""
    assert result.returncode != 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines, "no error message"
    return lines[-1]


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def config(tmp_path: pathlib.Path, **sections: dict[str, object]) -> str:
    base: dict[str, dict[str, object]] = {
        "DEFAULT": {"state_path": tmp_path / "state"},
        "api": {"port": free_port()},
        "deploy": {"http_port": free_port()},
    }
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    return str(write_config(tmp_path / "ingot.conf", base))


@pytest.mark.parametrize("command", ["serve", "api"])
def test_busy_api_port_names_the_option(tmp_path: pathlib.Path, busy_port: int,
                                        command: str) -> None:
    path = config(tmp_path, api={"port": busy_port})
    line = one_line_error(ingot(command, "--config-file", path))
    assert line == (f"ingot {command}: cannot listen on 127.0.0.1:{busy_port}: address "
                    f"already in use; another process listens there; stop it or set "
                    f"another [api] port")
    # It failed before doing anything: no conductor registered, no listening claim.
    assert "listening" not in ingot(command, "--config-file", path).stderr


@pytest.mark.parametrize("command", ["serve", "conductor"])
def test_busy_http_root_port_names_deploy_http_port(tmp_path: pathlib.Path,
                                                    busy_port: int, command: str) -> None:
    path = config(tmp_path, deploy={"http_port": busy_port})
    line = one_line_error(ingot(command, "--config-file", path))
    assert line.startswith(f"ingot {command}: cannot listen on 127.0.0.1:{busy_port}")
    assert line.endswith("set another [deploy] http_port")


def test_busy_proxy_port_names_the_option(tmp_path: pathlib.Path, busy_port: int) -> None:
    path = write_config(tmp_path / "proxy.conf", proxy_sections(
        {"loc1": f"http://127.0.0.1:{free_port()}"}, groups="_:loc1", port=busy_port))
    line = one_line_error(ingot("proxy", "--config-file", str(path)))
    assert line.startswith(f"ingot proxy: cannot listen on 127.0.0.1:{busy_port}")
    assert line.endswith("set another [api] port")


def test_bad_value_names_option_and_file(tmp_path: pathlib.Path) -> None:
    path = config(tmp_path, conductor={"deploy_callback_timeout": "soon"})
    for command in ("serve", "conductor", "db"):
        args = [command, "upgrade"] if command == "db" else [command]
        line = one_line_error(ingot(*args, "--config-file", path))
        assert line == (f"ingot {command}: configuration error: [conductor] "
                        f"deploy_callback_timeout in {path} is not valid: invalid literal "
                        f"for int() with base 10: 'soon'")


def test_missing_config_file(tmp_path: pathlib.Path) -> None:
    missing = tmp_path / "nowhere.conf"
    line = one_line_error(ingot("serve", "--config-file", str(missing)))
    assert line == f"ingot serve: configuration file(s) not found: {missing}"


def test_config_file_before_the_command(tmp_path: pathlib.Path) -> None:
    # Both places count, in order: the later file's value wins, and a bad one is seen.
    good = config(tmp_path)
    bad = write_config(tmp_path / "bad.conf", {"api": {"port": "http"}})
    line = one_line_error(ingot("--config-file", good, "serve", "--config-file", str(bad)))
    assert line.startswith(f"ingot serve: configuration error: [api] port in {bad}")
    line = one_line_error(ingot("--config-file", str(tmp_path / "none.conf"), "db",
                                "version"))
    assert line.endswith(f"not found: {tmp_path / 'none.conf'}")
    version = ingot("--config-file", good, "db", "upgrade")
    assert version.returncode == 0, version.stderr
    assert (tmp_path / "state" / "ingot.sqlite").exists()


def test_commands_without_configuration_refuse_it() -> None:
    result = ingot("--config-file", "x.conf", "agent", "--api-url", "http://127.0.0.1:9",
                   "--target", "/nonexistent", "--node-uuid", "x")
    assert result.returncode == 2
    assert "takes no --config-file" in result.stderr


@pytest.mark.parametrize("command", ["serve", "api", "conductor", "db", "proxy", "demo"])
def test_help_mentions_config_file(command: str) -> None:
    result = ingot(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "--config-file FILE" in result.stdout


def test_temp_url_options_that_contradict_stop_the_conductor(tmp_path: pathlib.Path) -> None:
    path = config(tmp_path, glance={"swift_temp_url_cachetime": 30})
    line = one_line_error(ingot("conductor", "--config-file", path))
    assert line.startswith("ingot conductor: configuration error: with the temporary URL "
                           "cache enabled, [glance] swift_temp_url_cachetime (30) must "
                           "exceed"), line


def test_raised_temp_url_lifetime_is_logged_not_silent(tmp_path: pathlib.Path) -> None:
    server = IngotServer(tmp_path / "ingot", options={
        "glance": {"swift_temp_url_cachetime": 100}}).start()
    try:
        log = server.log()
    finally:
        server.stop()
    assert ("[glance] swift_temp_url_cachetime is 100 s; temporary URLs are made valid "
            "for 120 s instead") in log
