"""HTTP download: status policy, retries, Range resume, Content-Length, proxies, URLs."""

from __future__ import annotations

import hashlib
import os

import pytest

from ingot.agent.download import (
    BytesSink,
    DownloadError,
    FatalDownloadError,
    Progress,
    RetryPolicy,
    Timeouts,
    fetch,
)
from ingot.images.proxies import ProxyPolicy, parse_no_proxy
from tests.servers.origin import Fault, Origin, running_origin

FAST = RetryPolicy(attempts=3, initial_delay=0.01, max_delay=0.05)
SHORT = Timeouts(connect=5, read=10)
IMAGE = os.urandom(4 << 20)


def download(urls: list[str], retry: RetryPolicy = FAST, **kwargs: object) -> BytesSink:
    sink = BytesSink(64 << 20)
    fetch(urls, sink, retry=retry, timeouts=SHORT, **kwargs)  # type: ignore[arg-type]
    return sink


def test_plain_download_is_complete(origin: Origin) -> None:
    assert download([origin.add("/disk.img", IMAGE)]).data == IMAGE
    assert len(origin.hits_for("/disk.img")) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
def test_other_4xx_fail_at_once_naming_the_status(origin: Origin, status: int) -> None:
    url = origin.add("/disk.img", IMAGE, Fault(statuses=[status] * 5))
    spare = origin.add("/spare.img", IMAGE)
    with pytest.raises(FatalDownloadError, match=f"HTTP {status}"):
        download([url, spare], retry=RetryPolicy(attempts=5, initial_delay=0.01))
    assert len(origin.hits_for("/disk.img")) == 1
    assert origin.hits_for("/spare.img") == []  # fatal: the next URL is not tried


def test_5xx_408_and_429_are_retried(origin: Origin) -> None:
    url = origin.add("/disk.img", IMAGE, Fault(statuses=[503, 429, 408, 500, 502]))
    sink = download([url], retry=RetryPolicy(attempts=6, initial_delay=0.01))
    assert sink.data == IMAGE
    assert [hit.status for hit in origin.hits_for("/disk.img")] == [503, 429, 408, 500,
                                                                    502, 200]


def test_retries_give_up_after_the_attempts(origin: Origin) -> None:
    url = origin.add("/disk.img", IMAGE, Fault(statuses=[503] * 10))
    with pytest.raises(DownloadError, match=r"HTTP 503.*after 3 attempts"):
        download([url])
    assert len(origin.hits_for("/disk.img")) == 3


def test_urls_are_tried_in_order(origin: Origin) -> None:
    broken = origin.add("/broken.img", IMAGE, Fault(statuses=[500] * 10))
    good = origin.add("/good.img", IMAGE)
    sink = BytesSink(64 << 20)
    result = fetch([broken, good], sink, retry=FAST, timeouts=SHORT)
    assert sink.data == IMAGE
    assert result.url == good
    assert len(origin.hits_for("/broken.img")) == 3


def test_connection_refused_is_retried_then_reported() -> None:
    with Origin() as closed:
        url = f"{closed.url}/disk.img"
    with pytest.raises(DownloadError, match=r"ConnectError.*after 3 attempts"):
        download([url])


def test_dropped_connection_resumes_with_range(origin: Origin) -> None:
    url = origin.add("/disk.img", IMAGE, Fault(drop_after=1_500_000, drops=2))
    sink = BytesSink(64 << 20)
    result = fetch([url], sink, retry=FAST, timeouts=SHORT)
    assert sink.data == IMAGE
    hits = origin.hits_for("/disk.img")
    assert [hit.status for hit in hits] == [200, 206, 206]
    assert "range" not in hits[0].headers
    assert hits[1].headers["range"] == "bytes=1500000-"
    assert hits[2].headers["range"] == "bytes=3000000-"
    etag = '"' + hashlib.sha256(IMAGE).hexdigest()[:16] + '"'  # the origin's ETag
    assert [hit.headers["if-range"] for hit in hits[1:]] == [etag, etag]
    assert origin.bytes_served("/disk.img") < 2 * len(IMAGE)
    assert (result.resumes, result.restarts) == (2, 0)


def test_chunked_download_resumes_through_the_generic_path(origin: Origin) -> None:
    url = origin.add("/disk.img", IMAGE, Fault(chunked=True, drop_after=2_000_000, drops=1))
    sink = BytesSink(64 << 20)
    result = fetch([url], sink, retry=FAST, timeouts=SHORT)
    assert sink.data == IMAGE
    hits = origin.hits_for("/disk.img")
    assert [hit.status for hit in hits] == [200, 206]
    assert hits[1].headers["range"].startswith("bytes=")
    assert origin.bytes_served("/disk.img") < 2 * len(IMAGE)
    assert result.resumes == 1


def test_server_ignoring_range_restarts_from_zero(origin: Origin) -> None:
    url = origin.add("/disk.img", IMAGE, Fault(drop_after=1_000_000, drops=1,
                                               ignore_range=True))
    sink = BytesSink(64 << 20)
    result = fetch([url], sink, retry=FAST, timeouts=SHORT)
    assert sink.data == IMAGE
    assert [hit.status for hit in origin.hits_for("/disk.img")] == [200, 200]
    assert (result.resumes, result.restarts) == (0, 1)


def test_short_body_fails_citing_content_length(origin: Origin) -> None:
    url = origin.add("/disk.img", IMAGE, Fault(length_delta=100, ignore_range=True))
    with pytest.raises(DownloadError, match=f"after {len(IMAGE)} of {len(IMAGE) + 100} "
                                            f"bytes \\(Content-Length\\)"):
        download([url])
    assert len(origin.hits_for("/disk.img")) == 3


def test_long_body_fails_citing_content_length(origin: Origin) -> None:
    url = origin.add("/disk.img", IMAGE, Fault(extra_bytes=100))
    with pytest.raises(DownloadError, match="more than its Content-Length"):
        download([url])


def test_compressed_answers_are_decoded_and_restarted(origin: Origin) -> None:
    url = origin.add("/disk.img", IMAGE, Fault(gzip=True, drop_after=1_000_000, drops=1))
    sink = BytesSink(64 << 20)
    result = fetch([url], sink, retry=FAST, timeouts=SHORT)
    assert sink.data == IMAGE
    hits = origin.hits_for("/disk.img")
    assert len(hits) == 2 and "range" not in hits[1].headers  # no resume on gzip
    assert result.restarts == 1


def test_progress_reports_bytes_total_and_rate(origin: Origin) -> None:
    url = origin.add("/disk.img", IMAGE)
    updates: list[Progress] = []
    download([url], progress=updates.append)
    assert updates
    last = updates[-1]
    assert (last.bytes_done, last.total) == (len(IMAGE), len(IMAGE))
    assert last.bytes_per_second > 0
    assert last.as_dict()["percent"] == 100.0


def test_proxy_from_policy_is_used_and_environment_ignored(
        origin: Origin, monkeypatch: pytest.MonkeyPatch) -> None:
    # The environment would send everything to a dead proxy, or nothing to any proxy.
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "*")
    with running_origin() as proxy:
        via_proxy = origin.add("/proxied.img", IMAGE)
        direct = origin.add("/direct.img", IMAGE[:1000])
        # A forward proxy sees absolute URLs; this one answers them itself.
        proxy.add(via_proxy, IMAGE)
        policy = ProxyPolicy(http=proxy.url,
                             no_proxy=parse_no_proxy("no_proxy", "direct.invalid"))
        assert download([via_proxy], policy=policy).data == IMAGE
        assert [hit.path for hit in proxy.hits] == [via_proxy]
        assert origin.hits_for("/proxied.img") == []
        bypass = ProxyPolicy(http=proxy.url,
                             no_proxy=parse_no_proxy("no_proxy", "127.0.0.0/8"))
        assert download([direct], policy=bypass).data == IMAGE[:1000]
        assert len(origin.hits_for("/direct.img")) == 1
        assert len(proxy.hits) == 1
