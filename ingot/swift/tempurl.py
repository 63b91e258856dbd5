"""Signing Swift temporary URLs with python-swiftclient, with an absolute expiry."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from urllib.parse import quote

from swiftclient.utils import generate_temp_url

from ingot.common.redaction import redact_url
from ingot.swift.locations import ObjectLocation

DIGESTS = ("sha256", "sha512", "sha1")
DEFAULT_DIGEST = "sha256"
_KEY_ID_LABEL = b"ingot temp URL key id"


@dataclasses.dataclass(frozen=True, slots=True, repr=False)
class TempURL:
    """A signed URL and the Unix time it stops working. repr/str hide the signature."""

    url: str
    expires_at: int

    @property
    def redacted(self) -> str:
        return redact_url(self.url)

    def __repr__(self) -> str:
        return f"TempURL(url={self.redacted!r}, expires_at={self.expires_at})"


def sign(location: ObjectLocation, *, key: str, expires_at: int, method: str = "GET",
         digest: str = DEFAULT_DIGEST) -> TempURL:
    """A temporary URL for ``method`` on ``location``, valid until ``expires_at``.

    Swift checks the signature against the decoded path, so the path is signed as it
    is and percent-encoded only in the URL.
    """
    if digest not in DIGESTS:
        raise ValueError(f"unsupported temp URL digest {digest!r}; use one of "
                         f"{', '.join(DIGESTS)}")
    signed = generate_temp_url(location.path, expires_at, key, method.upper(),
                               absolute=True, digest=digest)
    query = signed.split("?", 1)[1]
    return TempURL(f"{location.account.endpoint}{quote(location.path)}?{query}", expires_at)


def key_id(key: str) -> str:
    """Identifies a key (tells keys apart in the cache) without revealing it."""
    return hmac.new(key.encode(), _KEY_ID_LABEL, hashlib.sha256).hexdigest()
