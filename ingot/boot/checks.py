"""Checks for every value ingot puts into an iPXE script: refuse, never escape or strip.

iPXE reads a script line by line and expands ``${...}`` everywhere; ``&&``, ``||`` and a
lone ``;`` chain commands; a token starting with ``#`` is a comment. Quotes and
backslashes are not special in the ROMs in the field (newer iPXE treats them
differently), so a value cannot be quoted either. A value carrying any of these could
run commands of its own choosing on the booting machine, so it is refused with an error
naming its field. Facts about the ROM come from running Debian's ipxe-qemu
(1.0.0+git-20190125), see tests/boot/test_real_ipxe.py.
"""

from __future__ import annotations

import re
import string
import uuid
from urllib.parse import urlsplit

from ingot.boot.errors import BootConfigError
from ingot.common.redaction import redact_url

_PRINTABLE = frozenset(string.ascii_letters + string.digits + string.punctuation)
_OPERATORS = ("${", "&&", "||")
_QUOTES = frozenset("\"'\\")

# RFC 3986 characters; anything else (space, quotes, braces, backslash...) is refused.
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_URL_CHARS = _UNRESERVED | frozenset(":/?#[]@!$&'()*+,;=%")
# The ROM decodes every %XX in path and query, then re-encodes only these (plus
# whitespace, controls and non-ASCII). An escape of any other character reaches the
# server decoded: harmless for unreserved characters, but %26 (&), %2B (+), %3D (=),
# %2F (/)... would change what the URL means (a temp URL signature over "a%2Bb" is not
# one over "a+b"), so such URLs are refused.
_ROM_REENCODES = frozenset(" #%:?@")
_ESCAPE = re.compile(r"%(?P<hex>[0-9A-Fa-f]{2})?")
# Used with fullmatch: "$" alone would accept a trailing newline.
_MAC = re.compile(r"[0-9a-f]{2}([:-][0-9a-f]{2}){5}")
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
PARAM_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def _describe(char: str) -> str:
    return f"{char!r} (U+{ord(char):04X})"


def check_printable(field: str, value: str) -> None:
    """Printable ASCII only: no CR/LF/NUL or other controls, no Unicode look-alikes."""
    for char in value:
        if char not in _PRINTABLE and char != " ":
            raise BootConfigError(field, f"contains {_describe(char)}; only printable "
                                         f"ASCII is allowed in an iPXE script")


def check_kernel_token(field: str, token: str) -> None:
    """One whitespace-free word of a kernel command line, e.g. ``console=ttyS0,115200``."""
    check_printable(field, token)
    if not token:
        raise BootConfigError(field, "is empty")
    if " " in token:
        raise BootConfigError(field, f"{token!r} contains whitespace; a kernel parameter "
                                     f"value cannot contain spaces (quoting is not "
                                     f"possible in an iPXE script)")
    for operator in _OPERATORS:
        if operator in token:
            raise BootConfigError(field, f"{token!r} contains {operator!r}, which iPXE "
                                         f"would interpret; refused")
    quote = next((char for char in token if char in _QUOTES), None)
    if quote is not None:
        raise BootConfigError(field, f"{token!r} contains {quote!r}; quotes and "
                                     f"backslashes are refused in kernel parameters")
    if token == ";":
        raise BootConfigError(field, "a lone ';' separates iPXE commands; refused")
    if token.startswith("#"):
        raise BootConfigError(field, f"{token!r} starts with '#', which starts an iPXE "
                                     f"comment; refused")


def check_param_key(field: str, key: str) -> None:
    check_printable(field, key)
    if not PARAM_KEY.fullmatch(key):
        raise BootConfigError(field, f"{key!r} is not a kernel parameter name (letters, "
                                     f"digits, '_', '.', '-')")


def _check_escapes(field: str, part_name: str, text: str, shown: str) -> None:
    for match in _ESCAPE.finditer(text):
        if match.group("hex") is None:
            raise BootConfigError(field, f"{shown} has a '%' that starts no %XX escape in "
                                         f"its {part_name}; iPXE would rewrite it")
        char = chr(int(match.group("hex"), 16))
        if char in _UNRESERVED or char in _ROM_REENCODES or not char.isprintable():
            continue
        if ord(char) > 0x7E:
            continue
        raise BootConfigError(
            field, f"{shown} has {match.group(0)} in its {part_name}; iPXE sends that "
                   f"decoded as {char!r}, which changes the URL (and breaks a temporary "
                   f"URL's signature). Use a URL without it")


def check_boot_url(field: str, url: str) -> str:
    """A URL iPXE will fetch: plain http, no credentials, arrives exactly as written.

    Returns the URL unchanged. The error message shows the URL with any signature
    hidden.
    """
    shown = redact_url(url) if isinstance(url, str) else repr(url)
    if not isinstance(url, str) or not url:
        raise BootConfigError(field, "a URL is required")
    check_printable(field, url)
    if " " in url:
        raise BootConfigError(field, f"{shown!r} contains a space; iPXE cannot fetch "
                                     f"URLs with spaces")
    for operator in _OPERATORS:
        if operator in url:
            raise BootConfigError(field, f"{shown!r} contains {operator!r}, which iPXE "
                                         f"would interpret; refused")
    bad = next((char for char in url if char not in _URL_CHARS), None)
    if bad is not None:
        raise BootConfigError(field, f"{shown!r} contains {_describe(bad)}, which is not "
                                     f"allowed in a URL; refused")
    if "'" in url:
        raise BootConfigError(field, f"{shown!r} contains a quote; refused")
    parts = urlsplit(url)
    if parts.scheme.lower() == "https":
        raise BootConfigError(field, f"{shown!r} is https: the iPXE in common firmware "
                                     f"(and QEMU's) has no HTTPS support; boot files must "
                                     f"be served over http")
    if parts.scheme != "http":
        raise BootConfigError(field, f"{shown!r} must be an http:// URL")
    if not parts.hostname:
        raise BootConfigError(field, f"{shown!r} has no host")
    if "@" in parts.netloc:
        raise BootConfigError(field, f"{shown!r} carries credentials; a boot config is "
                                     f"readable by anyone on the provisioning network")
    if "#" in url:
        raise BootConfigError(field, f"{shown!r} has a fragment ('#'), which iPXE "
                                     f"treats as a comment start or drops; refused")
    try:
        parts.port  # noqa: B018 - parsing the port validates it
    except ValueError:
        raise BootConfigError(field, f"{shown!r} has an invalid port") from None
    _check_escapes(field, "path", parts.path, shown)
    _check_escapes(field, "query", parts.query, shown)
    return url


def normalize_mac(field: str, mac: str) -> str:
    """The MAC as iPXE's ``${mac:hexhyp}`` prints it: lower case, dash separated."""
    lowered = mac.lower() if isinstance(mac, str) else ""
    if not _MAC.fullmatch(lowered):
        raise BootConfigError(field, f"{mac!r} is not a MAC address")
    return lowered.replace(":", "-")


def check_node_uuid(field: str, value: str) -> str:
    """The canonical lower-case UUID: it names a directory, so nothing else is accepted."""
    try:
        canonical = str(uuid.UUID(value))
    except (ValueError, TypeError, AttributeError):
        raise BootConfigError(field, f"{value!r} is not a UUID") from None
    if canonical != value.lower():
        raise BootConfigError(field, f"{value!r} is not a UUID in canonical form")
    return canonical


def check_relative_path(field: str, value: str) -> str:
    """A path under the HTTP root such as ``pxelinux.cfg``: plain segments, no ``..``."""
    segments = value.strip("/").split("/") if isinstance(value, str) else [""]
    for segment in segments:
        if not _SEGMENT.fullmatch(segment):
            raise BootConfigError(field, f"{value!r} must be a relative path of plain "
                                         f"names (letters, digits, '.', '_', '-')")
    return "/".join(segments)


def check_name(field: str, value: str) -> str:
    """An iPXE image name (``--name``) that is also safe on a kernel command line."""
    if not isinstance(value, str) or not _SEGMENT.fullmatch(value):
        raise BootConfigError(field, f"{value!r} must be a plain name (letters, digits, "
                                     f"'.', '_', '-')")
    return value
