"""The agent downloads a drive given as a URL: retries, proxies, limits, redirects.

The server is a real HTTP server on 127.0.0.1 started by the test.
"""

from __future__ import annotations

import gzip
import pathlib
import socket
from collections.abc import Iterator

import pytest

from ingot.configdrive.errors import ConfigDriveFetchError
from ingot.configdrive.fetch import FetchPolicy, fetch, redact
from ingot.configdrive.partition import write_config_drive
from tests.configdrive import disks, isofiles
from tests.configdrive.conftest import Drive
from tests.configdrive.httpserver import Answer, ScriptedServer

FAST = FetchPolicy(attempts=3, backoff=0.01, connect_timeout=2, read_timeout=5)


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    running = ScriptedServer().start()
    yield running
    running.stop()


class FixedProxy:
    """A proxy selector like ingot.images.proxies: one proxy for every URL it is asked."""

    def __init__(self, proxy: str | None):
        self.proxy = proxy
        self.asked: list[str] = []

    def proxy_for(self, url: str) -> str | None:
        self.asked.append(url)
        return self.proxy


@pytest.mark.usefixtures("need_disk_tools")
def test_drive_from_url_after_a_503(server: ScriptedServer, drive: Drive,
                                    tmp_path: pathlib.Path) -> None:
    server.script["/cd"] = [Answer(503, b"busy"), Answer(200, drive.encoded.encode())]
    disk = disks.make_disk(tmp_path / "disk.img", 64 * 1024 * 1024,
                           "start=2048, size=40MiB, type=83\n", "dos")

    result = write_config_drive(str(disk), f"{server.url}/cd?temp_url_sig=s3cret",
                                fetch_policy=FAST)

    assert [r.target for r in server.requests] == ["/cd?temp_url_sig=s3cret"] * 2
    content = disks.read_range(disk, result.offset, result.size)
    assert isofiles.read_file(content, "/openstack/latest/user_data") == drive.user_data
    assert isofiles.read_file(content, "/openstack/2012-08-10/meta_data.json") == \
        drive.meta_data_json


def test_client_error_is_not_retried_and_the_query_stays_secret(
        server: ScriptedServer) -> None:
    with pytest.raises(ConfigDriveFetchError) as raised:
        fetch(f"{server.url}/missing?temp_url_sig=s3cret", policy=FAST)
    assert len(server.requests) == 1
    assert raised.value.message == f"configdrive download from {server.url}/missing failed: " \
                                   f"HTTP 404"
    assert "s3cret" not in str(raised.value)


def test_server_errors_retried_a_bounded_number_of_times(server: ScriptedServer) -> None:
    server.script["/cd"] = [Answer(500)]
    with pytest.raises(ConfigDriveFetchError, match="failed after 3 attempts: HTTP 500"):
        fetch(f"{server.url}/cd", policy=FAST)
    assert len(server.requests) == 3


def test_connection_refused_retried_then_reported() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port any more.
    with pytest.raises(ConfigDriveFetchError, match="failed after 3 attempts: ConnectError"):
        fetch(f"http://127.0.0.1:{port}/cd", policy=FAST)


@pytest.mark.parametrize("with_scheme", [True, False])
def test_proxy_chosen_per_url(server: ScriptedServer, drive: Drive, with_scheme: bool) -> None:
    server.script["/cd"] = [Answer(200, drive.encoded.encode())]
    # host:port, as in http_proxy variables, means an http:// proxy.
    proxies = FixedProxy(server.url if with_scheme else server.url.removeprefix("http://"))
    # Only the proxy can reach this host: .invalid never resolves.
    body = fetch("http://configdrive.invalid/cd", proxies=proxies, policy=FAST)
    assert body == drive.encoded.encode()
    assert proxies.asked == ["http://configdrive.invalid/cd"]
    assert [r.target for r in server.requests] == ["http://configdrive.invalid/cd"]


def test_no_proxy_when_the_selector_says_none(server: ScriptedServer) -> None:
    server.script["/cd"] = [Answer(200, b"data")]
    proxies = FixedProxy(None)
    assert fetch(f"{server.url}/cd", proxies=proxies, policy=FAST) == b"data"
    assert [r.target for r in server.requests] == ["/cd"]


def test_redirect_followed_with_its_own_proxy_choice(server: ScriptedServer) -> None:
    server.script["/old"] = [Answer(302, headers={"Location": "/new"})]
    server.script["/new"] = [Answer(200, b"moved")]
    proxies = FixedProxy(None)
    assert fetch(f"{server.url}/old", proxies=proxies, policy=FAST) == b"moved"
    assert proxies.asked == [f"{server.url}/old", f"{server.url}/new"]


def test_body_size_limit(server: ScriptedServer) -> None:
    server.script["/big"] = [Answer(200, bytes(10_000))]
    policy = FetchPolicy(attempts=1, max_size=1000)
    with pytest.raises(ConfigDriveFetchError, match="is 10000 bytes, more than the 1000"):
        fetch(f"{server.url}/big", policy=policy)


def test_no_compression_asked(server: ScriptedServer) -> None:
    server.script["/cd"] = [Answer(200, b"x")]
    fetch(f"{server.url}/cd", policy=FAST)
    assert server.requests[0].headers["Accept-Encoding"] == "identity"


@pytest.mark.usefixtures("need_disk_tools")
def test_url_serving_the_gzip_file_itself(server: ScriptedServer, drive: Drive,
                                          tmp_path: pathlib.Path) -> None:
    # Not base64 text but the .gz file: bytes are taken as they are, as Ironic's agent does.
    server.script["/cd.gz"] = [Answer(200, gzip.compress(drive.iso))]
    disk = disks.make_disk(tmp_path / "disk.img", 64 * 1024 * 1024,
                           "start=2048, size=40MiB, type=linux\n", "gpt")
    result = write_config_drive(str(disk), f"{server.url}/cd.gz", fetch_policy=FAST)
    content = disks.read_range(disk, result.offset, result.size)
    assert isofiles.read_file(content, "/openstack/latest/user_data") == drive.user_data


def test_redact() -> None:
    assert redact("https://user:pw@swift.example.com:8080/v1/c/o?temp_url_sig=x#f") == \
        "https://swift.example.com:8080/v1/c/o"
    assert redact("http://[2001:db8::1]/cd?sig=1") == "http://[2001:db8::1]/cd"
