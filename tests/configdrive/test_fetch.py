"""The agent downloads a drive given as a URL on the image download path
(agent/download.py): its retries, the node's proxy per URL and redirect, a size limit.

The server is tests/servers/origin.py, a real HTTP server on 127.0.0.1; it also plays the
node's proxy, being sent absolute URLs.
"""

from __future__ import annotations

import gzip
import pathlib
import socket
from collections.abc import Iterator

import pytest

from ingot.agent.download import RetryPolicy, Timeouts
from ingot.agent.standby import DownloadSettings, configdrive_fetcher
from ingot.configdrive.errors import ConfigDriveFetchError
from ingot.configdrive.partition import write_config_drive
from ingot.images.proxies import ProxyPolicy, parse_no_proxy
from tests.configdrive import disks, isofiles
from tests.configdrive.conftest import Drive
from tests.servers.origin import Fault, Origin, running_origin

FAST = DownloadSettings(retry=RetryPolicy(attempts=3, initial_delay=0.01),
                        timeouts=Timeouts(connect=2, read=5))
DIRECT = configdrive_fetcher(ProxyPolicy(), FAST)


@pytest.fixture
def server() -> Iterator[Origin]:
    with running_origin() as running:
        yield running


def _targets(server: Origin) -> list[str]:
    return [hit.path for hit in server.hits]


@pytest.mark.usefixtures("need_disk_tools")
def test_drive_from_url_after_a_503(server: Origin, drive: Drive,
                                    tmp_path: pathlib.Path) -> None:
    server.add("/cd", drive.encoded.encode(), Fault(statuses=[503]))
    disk = disks.make_disk(tmp_path / "disk.img", 64 * 1024 * 1024,
                           "start=2048, size=40MiB, type=83\n", "dos")

    result = write_config_drive(str(disk), f"{server.url}/cd?temp_url_sig=s3cret",
                                fetch=DIRECT)

    assert _targets(server) == ["/cd?temp_url_sig=s3cret"] * 2
    content = disks.read_range(disk, result.offset, result.size)
    assert isofiles.read_file(content, "/openstack/latest/user_data") == drive.user_data
    assert isofiles.read_file(content, "/openstack/2012-08-10/meta_data.json") == \
        drive.meta_data_json


def test_a_url_drive_needs_a_downloader(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ConfigDriveFetchError, match="no way to download"):
        write_config_drive(str(tmp_path / "disk.img"), "http://127.0.0.1:9/cd")


def test_client_error_is_not_retried_and_the_query_stays_secret(
        server: Origin) -> None:
    with pytest.raises(ConfigDriveFetchError) as raised:
        DIRECT(f"{server.url}/missing?temp_url_sig=s3cret")
    assert len(server.hits) == 1
    assert raised.value.message.startswith("configdrive download failed: HTTP 404")
    assert f"{server.url}/missing" in raised.value.message
    assert "s3cret" not in str(raised.value)


def test_server_errors_retried_a_bounded_number_of_times(server: Origin) -> None:
    server.add("/cd", b"never", Fault(statuses=[500] * 5))
    with pytest.raises(ConfigDriveFetchError, match=r"HTTP 500.*gave up after 3 attempts"):
        DIRECT(f"{server.url}/cd")
    assert len(server.hits) == 3


def test_connection_refused_retried_then_reported() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port any more.
    with pytest.raises(ConfigDriveFetchError, match=r"ConnectError.*gave up after 3"):
        DIRECT(f"http://127.0.0.1:{port}/cd")


def test_the_nodes_proxy_is_used(server: Origin, drive: Drive) -> None:
    server.add("/cd", drive.encoded.encode())
    fetch = configdrive_fetcher(ProxyPolicy(http=server.url), FAST)
    # Only the proxy can reach this host: .invalid never resolves.
    assert fetch("http://configdrive.invalid/cd") == drive.encoded.encode()
    assert _targets(server) == ["http://configdrive.invalid/cd"]


def test_redirect_followed_with_its_own_proxy_choice(server: Origin) -> None:
    # Through the proxy to the first host, which redirects to one reached directly.
    server.add("/old", b"", Fault(redirect=f"{server.url}/new"))
    server.add("/new", b"moved")
    policy = ProxyPolicy(http=server.url, no_proxy=parse_no_proxy("no_proxy", "127.0.0.1"))
    assert configdrive_fetcher(policy, FAST)("http://configdrive.invalid/old") == b"moved"
    assert _targets(server) == ["http://configdrive.invalid/old", "/new"]


def test_body_size_limit(server: Origin) -> None:
    server.add("/big", bytes(10_000))
    fetch = configdrive_fetcher(ProxyPolicy(), FAST, limit=1000)
    with pytest.raises(ConfigDriveFetchError, match="more than the 1000 byte limit"):
        fetch(f"{server.url}/big")
    assert len(server.hits) == 1  # not retried


def test_no_compression_asked(server: Origin) -> None:
    server.add("/cd", b"x")
    DIRECT(f"{server.url}/cd")
    assert server.hits[0].headers["accept-encoding"] == "identity"


@pytest.mark.usefixtures("need_disk_tools")
def test_url_serving_the_gzip_file_itself(server: Origin, drive: Drive,
                                          tmp_path: pathlib.Path) -> None:
    # Not base64 text but the .gz file: bytes are taken as they are, as Ironic's agent does.
    server.add("/cd.gz", gzip.compress(drive.iso))
    disk = disks.make_disk(tmp_path / "disk.img", 64 * 1024 * 1024,
                           "start=2048, size=40MiB, type=linux\n", "gpt")
    result = write_config_drive(str(disk), f"{server.url}/cd.gz", fetch=DIRECT)
    content = disks.read_range(disk, result.offset, result.size)
    assert isofiles.read_file(content, "/openstack/latest/user_data") == drive.user_data
