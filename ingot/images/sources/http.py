"""``http(s)://`` images: a HEAD, then a streamed GET, through the proxy policy the
caller gives (the conductor's own, from its environment: a node's proxies are the
agent's and may be reachable only from the nodes' network).

Redirects are followed, but the record keeps the operator's URL: a redirect target (an
expiring signed URL, typically) never replaces the image_source.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from ingot.common.redaction import redact_url
from ingot.images.checksum import FetchText
from ingot.images.proxies import ProxyPolicy, http_client
from ingot.images.sources.errors import (
    ImageNotAcceptable,
    ImageNotFound,
    ImageReferenceError,
    ImageSourceUnavailable,
)
from ingot.images.sources.instance_info import DeclaredImage, declared_image
from ingot.images.sources.record import Fetched, Freshness, ImageSource
from ingot.images.sources.streaming import CHUNK, write_chunks

if TYPE_CHECKING:
    from ingot.images.sources.access import SourceAccess

SCHEMES = ("http", "https")
KIND = "http"
# Servers that refuse HEAD for GET-signed URLs (S3 presigned URLs answer 403) or do not
# implement it: the size then comes from a one-byte ranged GET.
_HEAD_REFUSED = (403, 405, 501)
_CONTENT_RANGE = re.compile(r"^bytes \d+-\d+/(\d+)$")
MAX_CHECKSUM_FILE = 1 << 20


@dataclasses.dataclass(frozen=True)
class HeadResult:
    size: int
    freshness: Freshness
    final_url: str


@dataclasses.dataclass(frozen=True)
class HttpOptions:
    """How the conductor talks to image servers for one node."""

    policy: ProxyPolicy = dataclasses.field(default_factory=ProxyPolicy)
    verify: bool | str = True  # or a CA bundle path
    timeout: float = 30.0  # seconds without progress on a read
    connect_timeout: float = 10.0

    def client(self) -> httpx.Client:
        return http_client(self.policy, verify=self.verify,
                           timeout=httpx.Timeout(self.timeout, connect=self.connect_timeout))


def check_url(reference: str) -> None:
    """Reject what is not an absolute http(s) URL with a host (no I/O)."""
    try:
        url = httpx.URL(reference)
    except (httpx.InvalidURL, ValueError) as exc:
        raise ImageReferenceError(f"image_source {redact_url(reference)!r} is not a valid "
                                  f"URL: {exc}") from None
    if url.scheme not in SCHEMES or not url.host:
        raise ImageReferenceError(f"image_source {redact_url(reference)!r} is not an "
                                  f"http(s) URL with a host.")


def _status_error(status: int, what: str) -> Exception:
    if status in (404, 410):
        return ImageNotFound(f"{what}: HTTP {status}, no image there.")
    if status >= 500 or status in (408, 429):
        return ImageSourceUnavailable(f"{what}: HTTP {status} from the server.")
    return ImageNotAcceptable(f"{what}: HTTP {status} instead of 200.")


def _freshness(headers: httpx.Headers) -> Freshness:
    return Freshness(etag=headers.get("etag"), last_modified=headers.get("last-modified"))


def _declared_length(response: httpx.Response) -> int | None:
    """Content-Length of the image bytes; None if absent or not the image's length
    (a content coding makes it the encoded length)."""
    length = response.headers.get("content-length")
    coding = response.headers.get("content-encoding", "identity").lower()
    if length is None or not length.isdigit() or coding not in ("identity", ""):
        return None
    return int(length)


def _ranged_size(client: httpx.Client, url: str, what: str) -> HeadResult:
    with client.stream("GET", url, headers={"Range": "bytes=0-0"}) as response:
        if response.status_code == 206:
            match = _CONTENT_RANGE.match(response.headers.get("content-range", ""))
            size = int(match[1]) if match else None
        elif response.status_code == 200:
            size = _declared_length(response)
        else:
            raise _status_error(response.status_code, what)
        if size is None:
            raise ImageNotAcceptable(f"{what}: the server gives no size (no Content-Length "
                                     f"or Content-Range).")
        return HeadResult(size, _freshness(response.headers), str(response.url))


def head_url(client: httpx.Client, url: str) -> HeadResult:
    """Size and validators of ``url``; errors say what failed with the URL redacted."""
    what = f"HEAD {redact_url(url)}"
    try:
        response = client.head(url)
        if response.status_code in _HEAD_REFUSED:
            return _ranged_size(client, url, what)
    except httpx.UnsupportedProtocol as exc:
        raise ImageReferenceError(f"{what}: {exc}") from None
    except httpx.HTTPError as exc:
        raise ImageSourceUnavailable(f"{what} failed: {type(exc).__name__}: "
                                     f"{redact_url(str(exc))}") from None
    if response.status_code != 200:
        raise _status_error(response.status_code, what)
    size = _declared_length(response)
    if size is None:
        raise ImageNotAcceptable(f"{what}: no Content-Length in the response, so the "
                                 f"image size cannot be known.")
    return HeadResult(size, _freshness(response.headers), str(response.url))


def download_url(client: httpx.Client, url: str, path: str, algorithm: str, *,
                 method: str = "download") -> Fetched:
    """GET ``url`` into ``path``, hashing while writing; the length is enforced."""
    what = f"GET {redact_url(url)}"
    try:
        with client.stream("GET", url) as response:
            if response.status_code != 200:
                raise _status_error(response.status_code, what)
            return write_chunks(response.iter_bytes(CHUNK), path, algorithm=algorithm,
                                expected_size=_declared_length(response), what=what,
                                method=method, freshness=_freshness(response.headers))
    except httpx.HTTPError as exc:
        raise ImageSourceUnavailable(f"{what} failed: {type(exc).__name__}: "
                                     f"{redact_url(str(exc))}") from None


def resolve(reference: str, declared: DeclaredImage, options: HttpOptions) -> ImageSource:
    check_url(reference)
    with options.client() as client:
        head = head_url(client, reference)
    return ImageSource(
        reference=reference, kind=KIND, size=head.size,
        digests=declared.digests, freshness=head.freshness,
        disk_format=declared.disk_format, image_type=declared.image_type, url=reference,
        redirected_to=head.final_url if head.final_url != reference else None)


def download(source: ImageSource, path: str, algorithm: str,
             options: HttpOptions) -> Fetched:
    assert source.url is not None
    with options.client() as client:
        return download_url(client, source.url, path, algorithm)


def checksum_fetcher(options: HttpOptions) -> FetchText:
    """Fetches checksum files (image_checksum given as a URL) with the same options."""

    def fetch(url: str) -> str:
        with options.client() as client, client.stream("GET", url) as response:
            if response.status_code != 200:
                raise _status_error(response.status_code, f"GET {redact_url(url)}")
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_CHECKSUM_FILE:
                    raise ImageNotAcceptable(f"The checksum file {redact_url(url)} is "
                                             f"larger than {MAX_CHECKSUM_FILE} bytes.")
            return body.decode("utf-8", errors="replace")

    return fetch


class HttpScheme:
    """http:// and https://: HEAD through the node's proxies; the agent fetches the URL
    itself unless the conductor is asked to serve it."""

    kind = KIND

    def check(self, reference: str, instance_info: Mapping[str, Any], *,
              allow_md5: bool) -> None:
        check_url(reference)
        declared_image(instance_info, allow_md5=allow_md5)

    def resolve(self, reference: str, instance_info: Mapping[str, Any],
                access: SourceAccess) -> ImageSource:
        return resolve(reference, declared_image(instance_info, allow_md5=access.allow_md5),
                       access.http_options)

    def fetch(self, source: ImageSource, path: str, algorithm: str,
              access: SourceAccess) -> Fetched:
        return download(source, path, algorithm, access.http_options)

    def agent_url(self, source: ImageSource, access: SourceAccess) -> str | None:
        return source.url or source.reference


SOURCE = HttpScheme()
