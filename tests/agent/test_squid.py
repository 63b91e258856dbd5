"""Image downloads through a real Squid: one origin fetch for a fleet, and no_proxy."""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import pathlib
import threading
from collections.abc import Iterator

import pytest

from ingot.agent.download import RetryPolicy, Timeouts, fetch_text
from ingot.agent.writer import ImageDownload, WriteOptions, WriteResult, write_image
from ingot.images.checksum import expected_digest
from ingot.images.proxies import ProxyPolicy
from tests.servers.origin import Origin
from tests.servers.squid import Squid

IMAGE = os.urandom(6 << 20)
OPTIONS = WriteOptions(retry=RetryPolicy(attempts=3, initial_delay=0.05),
                       timeouts=Timeouts(connect=5, read=20), buffer_bytes=1 << 20,
                       buffers=4)


@pytest.fixture(scope="module")
def squid() -> Iterator[Squid]:
    with Squid() as server:
        yield server


def test_eight_agents_make_one_origin_fetch(squid: Squid, origin: Origin,
                                            tmp_path: pathlib.Path) -> None:
    # A signed-looking query string, as Swift temp URLs have: still cached once.
    url = origin.add("/fleet.img", IMAGE) + "?temp_url_sig=abc123&temp_url_expires=99"
    sums = origin.add("/SHA256SUMS", f"{hashlib.sha256(IMAGE).hexdigest()}  fleet.img\n"
                      .encode())
    policy = ProxyPolicy(http=squid.url)
    info = {"urls": [url], "checksum": sums}
    start = threading.Barrier(8)

    def deploy(index: int) -> WriteResult:
        expected = expected_digest(info, fetch_text=lambda u: fetch_text(u, policy=policy))
        start.wait(timeout=30)
        return write_image(str(tmp_path / f"node{index}.img"),
                           ImageDownload([url], expected, "raw", policy), OPTIONS)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(deploy, range(8), timeout=120))

    assert all(result.image_bytes == len(IMAGE) for result in results)
    for index in range(8):
        assert (tmp_path / f"node{index}.img").read_bytes() == IMAGE
    assert len(origin.hits_for("/fleet.img?temp_url_sig=abc123&temp_url_expires=99")) == 1
    assert origin.bytes_served("/fleet.img?temp_url_sig=abc123&temp_url_expires=99") \
        == len(IMAGE)
    lines = squid.logged("/fleet.img?temp_url_sig=abc123", count=8)
    assert len(lines) == 8
    assert sum("HIER_DIRECT" in line for line in lines) == 1
    # The checksum file went through the proxy as well.
    assert squid.logged("/SHA256SUMS")


def test_no_proxy_origin_never_reaches_squid(squid: Squid, origin: Origin,
                                            tmp_path: pathlib.Path) -> None:
    control = origin.add("/control.img", IMAGE[:1 << 20])
    direct = origin.add("/direct.img", IMAGE)
    expected_control = expected_digest(
        {"urls": [control], "checksum": hashlib.sha256(IMAGE[:1 << 20]).hexdigest()})
    write_image(str(tmp_path / "control.img"),
                ImageDownload([control], expected_control, "raw",
                            ProxyPolicy(http=squid.url)), OPTIONS)
    assert squid.logged("/control.img")  # the log works

    policy = ProxyPolicy.from_image_info({"proxies": {"http": squid.url},
                                          "no_proxy": "example.invalid,127.0.0.0/8"})
    expected = expected_digest({"urls": [direct],
                                "checksum": hashlib.sha256(IMAGE).hexdigest()})
    write_image(str(tmp_path / "direct.img"), ImageDownload([direct], expected, "raw", policy),
                OPTIONS)
    assert (tmp_path / "direct.img").read_bytes() == IMAGE
    assert len(origin.hits_for("/direct.img")) == 1
    assert squid.access_lines("/direct.img") == []
