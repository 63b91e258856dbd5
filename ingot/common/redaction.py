"""The one redaction policy: what must never appear in an API answer, a log line or an
error message, and how it is hidden.

* A value whose key names a secret is replaced whole by ``MASK`` (dicts and lists too):
  Ironic's keys (oslo.utils' password-key list, which includes ``configdrive``) and
  any key containing password, passwd, secret, token, credential, signature,
  authorization, or ending in ``_key``, ``_sig`` or ``_pass``.
* Inside any string: the user info of URLs (``scheme://user:password@``), a leading
  ``user:password@`` (proxies written without a scheme), and the value of every
  ``name=value`` or ``'name': 'value'`` whose name is a secret key by the rule above,
  which covers query strings (Swift ``temp_url_sig``, S3 ``X-Amz-Signature``,
  ``Signature=``, ``X-Amz-Credential``, tokens).

``redact`` is for JSON-like values (API answers, command parameters), ``redact_text``
for free text (log lines, error messages); ``RedactingFormatter`` applies the latter to
every formatted log record, tracebacks included, as the catch-all.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Mapping
from typing import Any

from oslo_utils import strutils

MASK = "******"

# oslo.utils' list is what Ironic masks; read from the pinned library so both agree.
_OSLO_WORDS: tuple[str, ...] = tuple(getattr(strutils, "_SANITIZE_KEYS", ()))
_WORDS = (*_OSLO_WORDS, "password", "passwd", "pswd", "passphrase", "secret", "token",
          "credential", "signature", "authorization", "configdrive", "private_key")
_SUFFIXES = ("_key", "_sig", "_pass")
_EXACT = frozenset({"key", "sig", "pass", "credentials"})

_URL_USERINFO = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^\s/?#@]*@")
_BARE_USERINFO = re.compile(r"^[^\s:/@]+:[^\s/@]*@(?=\S)")
# name=value (query strings, log text) or 'name': 'value' / "name"="value" (reprs, JSON).
# A name starts where no name character precedes it: the same matches (a name runs to
# the end of its word either way), without a failed attempt from every letter of each
# word, which made a log line's redaction eight times slower.
_ASSIGNMENT = re.compile(
    r"""(?<![A-Za-z0-9_.-])(?P<name>[A-Za-z0-9_.-]+)(?P<mid>['"]?\s*(?:=|(?<=['"]):|['"]?\s*:(?=\s*['"]))\s*)"""
    r"""(?:(?P<quote>['"])(?P<quoted>.*?)(?P=quote)|(?P<plain>[^\s'"&#,;)}\]]*))""")


@functools.lru_cache(maxsize=4096)
def secret_key(key: str) -> bool:
    """Whether a value stored under ``key`` is a secret."""
    lowered = key.lower().replace("-", "_")
    return (lowered in _EXACT or lowered.endswith(_SUFFIXES)
            or any(word in lowered for word in _WORDS))


def _assignment(match: re.Match[str]) -> str:
    if not secret_key(match["name"]):
        return match[0]
    if match["quote"] is not None:
        if not match["quoted"]:
            return match[0]
        return f"{match['name']}{match['mid']}{match['quote']}{MASK}{match['quote']}"
    if not match["plain"]:
        return match[0]
    return f"{match['name']}{match['mid']}{MASK}"


def redact_text(text: str) -> str:
    """``text`` with URL credentials, signatures and secret assignments masked."""
    if "@" in text:
        text = _URL_USERINFO.sub(r"\g<1>" + MASK + "@", text)
        text = _BARE_USERINFO.sub(MASK + "@", text)
    if "=" in text or ":" in text:
        text = _ASSIGNMENT.sub(_assignment, text)
    return text


def redact_url(url: str) -> str:
    """A URL fit for messages and logs (same rule as any text)."""
    return redact_text(url)


def redact(value: Any) -> Any:
    """A copy of a JSON-like value with secret keys masked and every string redacted."""
    if isinstance(value, Mapping):
        return {key: (MASK if isinstance(key, str) and secret_key(key)
                      and _maskable(value[key]) else redact(value[key]))
                for key in value}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def _maskable(value: Any) -> bool:
    # None, "" and booleans carry no secret; masking them would only hide a setting.
    return value is not None and value != "" and not isinstance(value, bool)


class RedactingFormatter(logging.Formatter):
    """Formats with ``inner`` and redacts the result, exception text included."""

    def __init__(self, inner: logging.Formatter | None = None):
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(self.inner.format(record))


def install(logger: logging.Logger | None = None) -> None:
    """Make every handler of ``logger`` (the root logger by default) redact."""
    for handler in (logger or logging.getLogger()).handlers:
        if not isinstance(handler.formatter, RedactingFormatter):
            handler.setFormatter(RedactingFormatter(handler.formatter))
