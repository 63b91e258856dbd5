"""Downloading a config drive from its URL, on the agent.

Unlike Ironic's agent (one GET, no proxy, no retry, unbounded body), the download goes
through the proxy chosen for each URL (redirects included), retries connection errors,
408, 429 and 5xx answers a bounded number of times with backoff, and stops reading at a
size limit. The environment's proxy variables are ignored (``trust_env=False``): the
proxy is what the deploy asked for. URLs are logged without their query string, which
holds Swift temporary URL signatures.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from ingot.configdrive import MiB
from ingot.configdrive.errors import ConfigDriveFetchError

LOG = logging.getLogger(__name__)

_RETRIED_STATUSES = frozenset({408, 429})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# The drive is gzip already; a Content-Encoding on top would only be a second bomb to defuse.
_HEADERS = {"Accept-Encoding": "identity"}


class ProxySelector(Protocol):
    """Chooses the proxy for a URL (ingot.images.proxies provides one)."""

    def proxy_for(self, url: str) -> str | None: ...


@dataclass(frozen=True)
class FetchPolicy:
    attempts: int = 4
    backoff: float = 1.0  # seconds before the second attempt, doubled after each
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    # base64 of a 64 MiB drive that does not compress, with line breaks, fits.
    max_size: int = 128 * MiB
    max_redirects: int = 5


def redact(url: str) -> str:
    """The URL without credentials, query or fragment: what may go in logs and errors."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def fetch(url: str, *, proxies: ProxySelector | None = None,
          policy: FetchPolicy | None = None) -> bytes:
    """The body at ``url``; ConfigDriveFetchError once the attempts are used up."""
    policy = policy or FetchPolicy()
    delay = policy.backoff
    for attempt in range(1, policy.attempts + 1):
        try:
            return _fetch_once(url, proxies, policy)
        except _Retryable as exc:
            if attempt == policy.attempts:
                raise ConfigDriveFetchError(
                    f"configdrive download from {redact(url)} failed after {attempt} "
                    f"attempts: {exc}") from None
            LOG.warning("configdrive download from %s failed (%s), attempt %d of %d; "
                        "retrying in %.1fs", redact(url), exc, attempt, policy.attempts,
                        delay)
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


class _Retryable(Exception):
    """A failure that may go away: connection trouble or a temporary server answer."""


def _fetch_once(url: str, proxies: ProxySelector | None, policy: FetchPolicy) -> bytes:
    timeout = httpx.Timeout(policy.read_timeout, connect=policy.connect_timeout)
    for _ in range(policy.max_redirects + 1):
        if urlsplit(url).scheme.lower() not in ("http", "https"):
            raise ConfigDriveFetchError(
                f"configdrive URL {redact(url)} is not http or https")
        proxy = _proxy(proxies.proxy_for(url)) if proxies is not None else None
        try:
            with httpx.Client(trust_env=False, proxy=proxy, timeout=timeout,
                              follow_redirects=False) as client, \
                    client.stream("GET", url, headers=_HEADERS) as response:
                if response.status_code in _REDIRECTS and "location" in response.headers:
                    # Followed here, not by httpx, so the next hop gets its own proxy.
                    url = urljoin(url, response.headers["location"])
                    continue
                _check_status(url, response.status_code)
                return _read_body(url, response, policy.max_size)
        except httpx.TransportError as exc:
            raise _Retryable(f"{type(exc).__name__}: {exc}") from None
        except (httpx.InvalidURL, ValueError) as exc:
            raise ConfigDriveFetchError(f"configdrive download from {redact(url)} is "
                                        f"impossible: {exc}") from None
    raise ConfigDriveFetchError(
        f"configdrive download stopped after {policy.max_redirects} redirects")


def _proxy(proxy: str | None) -> str | None:
    """A proxy given as host:port (as in http_proxy variables) means an http:// one."""
    if proxy and "://" not in proxy:
        return f"http://{proxy}"
    return proxy or None


def _check_status(url: str, status: int) -> None:
    if status >= 500 or status in _RETRIED_STATUSES:
        raise _Retryable(f"HTTP {status}")
    if status != 200:
        raise ConfigDriveFetchError(f"configdrive download from {redact(url)} failed: "
                                    f"HTTP {status}")


def _read_body(url: str, response: httpx.Response, limit: int) -> bytes:
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ConfigDriveFetchError(f"configdrive at {redact(url)} is {declared} bytes, "
                                    f"more than the {limit} byte limit")
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > limit:
            raise ConfigDriveFetchError(f"configdrive at {redact(url)} is more than the "
                                        f"{limit} byte limit")
    LOG.info("configdrive downloaded from %s: %d bytes", redact(url), len(body))
    return bytes(body)
