"""Hiding secrets in what the agent logs or shows: URL signatures and passwords,
config drives, authorization values, tokens."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "******"
_URL_USERINFO = re.compile(r"(?<=://)[^/@\s]*@")
_SECRET_QUERY = re.compile(
    r"(?i)([?&](?:temp_url_sig|sig|signature|x-amz-signature|x-amz-credential|"
    r"x-amz-security-token|token|access_token|password|secret)=)[^&#\s]*")
_SECRET_KEYS = ("password", "secret", "token", "authorization", "configdrive",
                "private_key", "passphrase", "credential")


def redact_url(url: str) -> str:
    """``url`` without user info and signature/token query values."""
    return _SECRET_QUERY.sub(r"\1" + MASK, _URL_USERINFO.sub(MASK + "@", url))


def _secret_key(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in _SECRET_KEYS)


def redact(value: Any) -> Any:
    """A copy of a JSON-like value with secret-looking keys masked and URLs redacted."""
    if isinstance(value, Mapping):
        return {key: (MASK if isinstance(key, str) and _secret_key(key)
                      and value[key] not in (None, "") else redact(value[key]))
                for key in value}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    if isinstance(value, str) and "://" in value:
        return redact_url(value)
    return value
