"""Checking a config drive a client sends, before anything is stored or written.

A string drive is either an http(s) URL (passed through: the agent downloads it) or
strict base64 (whitespace allowed) of a gzip-compressed ISO 9660 image labelled
``config-2``. A raw, uncompressed ISO after base64 is accepted too, as the agent of
Ironic accepts it. Decompression is streamed and stops at a limit, so a gzip bomb
costs at most one chunk of memory; ``check`` keeps only the ISO header, and the
decoded image is produced on demand by ``ConfigDriveImage.iso()``.

Every failure is a ``ConfigDriveRejected`` carrying the HTTP status for the API:
400 for a malformed drive, 413 for one too big.
"""

from __future__ import annotations

import binascii
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ingot.configdrive import LABEL, MAX_COMPRESSED_SIZE, MAX_SIZE, MiB
from ingot.configdrive.errors import (
    ConfigDriveTooLarge,
    InvalidJSONDrive,
    InvalidURL,
    NotBase64,
    NotGzip,
    NotISO,
    WrongLabel,
)
from ingot.configdrive.fslabel import ISO_HEADER_SIZE, is_config_drive_label, parse_iso_volume

__all__ = [
    "ConfigDriveImage",
    "ConfigDriveTooLarge",
    "ConfigDriveURL",
    "InvalidJSONDrive",
    "InvalidURL",
    "NotBase64",
    "NotGzip",
    "NotISO",
    "WrongLabel",
    "check",
    "check_image",
    "check_json",
    "decode_image",
    "is_url",
]

_GZIP_MAGIC = b"\x1f\x8b"
_WHITESPACE = b" \t\n\r\v\f"
# Input and output steps of the streamed inflate: the memory a bomb can take.
_CHUNK = MiB

# The JSON form (API >= 1.56): these keys only, with these JSON types.
_JSON_KEYS: dict[str, tuple[type, ...]] = {
    "meta_data": (dict,),
    "network_data": (dict,),
    "user_data": (dict, list, str),
    "vendor_data": (dict,),
}
_JSON_NAMES: dict[type, str] = {dict: "an object", list: "an array", str: "a string"}


@dataclass(frozen=True)
class ConfigDriveURL:
    """A drive the agent downloads itself."""

    url: str


@dataclass(frozen=True)
class ConfigDriveImage:
    """A checked drive: ``size`` bytes of ISO 9660 labelled ``label``."""

    size: int
    label: str
    compressed_size: int
    gzipped: bool
    max_size: int = field(repr=False)
    # The base64-decoded bytes: gzip (or the raw ISO). Kept out of repr: user secrets.
    payload: bytes = field(repr=False, compare=False)

    def iso(self) -> bytes:
        """The ISO image itself, decompressed again under the same limit."""
        if not self.gzipped:
            return self.payload
        return b"".join(_inflate(self.payload, self.max_size))


def is_url(configdrive: str | bytes) -> bool:
    """Whether the drive is a URL rather than data.

    A str follows Ironic's rule, ``://`` anywhere (base64 has no ':'), so that a URL with
    another scheme gets a clear error. Bytes may be a raw ISO whose user_data mentions
    URLs, so only an http(s) URL at the start counts.
    """
    if isinstance(configdrive, str):
        return "://" in configdrive
    return configdrive.lstrip()[:8].lower().startswith((b"http://", b"https://"))


def check(configdrive: str, *, max_size: int = MAX_SIZE,
          max_compressed_size: int = MAX_COMPRESSED_SIZE) -> ConfigDriveURL | ConfigDriveImage:
    """Check a string drive from a provision request; raise ConfigDriveRejected if bad."""
    if is_url(configdrive):
        return ConfigDriveURL(check_url(configdrive))
    return check_image(configdrive, max_size=max_size, max_compressed_size=max_compressed_size)


def check_url(url: str) -> str:
    """The URL stripped of surrounding whitespace, if the agent can download it."""
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise InvalidURL(f"configdrive URL is malformed: {exc}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidURL(f"configdrive URL must use http or https, not {parts.scheme!r}")
    if not parts.hostname:
        raise InvalidURL("configdrive URL has no host")
    if any(c.isspace() for c in url):
        raise InvalidURL("configdrive URL contains whitespace")
    return url


def check_json(configdrive: Mapping[str, Any], *, vendor_data: bool = True) -> None:
    """Check the JSON form's shape (what Ironic's schema allows); InvalidJSONDrive if not.

    ``vendor_data=False`` refuses the ``vendor_data`` key (API versions before 1.59).
    """
    allowed = dict(_JSON_KEYS)
    if not vendor_data:
        del allowed["vendor_data"]
    for key, value in configdrive.items():
        if key not in allowed:
            raise InvalidJSONDrive(
                f"configdrive has an unknown key {key!r}; allowed: {', '.join(allowed)}")
        if value is not None and not isinstance(value, allowed[key]):
            *others, last = [_JSON_NAMES[kind] for kind in allowed[key]]
            kinds = f"{', '.join(others)} or {last}" if others else last
            raise InvalidJSONDrive(f"configdrive {key} must be {kinds}")


def check_image(configdrive: str | bytes, *, max_size: int = MAX_SIZE,
                max_compressed_size: int | None = MAX_COMPRESSED_SIZE) -> ConfigDriveImage:
    """Decode and check a drive that is not a URL, keeping only its ISO header.

    A str must be base64. Bytes may also be the raw gzip or ISO data, which is what the
    agent gets when a drive URL serves the file itself rather than its base64 text.
    """
    image, _ = _examine(configdrive, max_size, max_compressed_size, keep=False)
    return image


def decode_image(configdrive: str | bytes, *, max_size: int = MAX_SIZE) -> bytes:
    """The checked ISO of a drive that is not a URL, decompressed in one pass."""
    _, iso = _examine(configdrive, max_size, None, keep=True)
    assert iso is not None
    return iso


def _examine(configdrive: str | bytes, max_size: int, max_compressed_size: int | None, *,
             keep: bool) -> tuple[ConfigDriveImage, bytes | None]:
    payload = _unbase64(configdrive, max_compressed_size)
    if payload is None:
        assert isinstance(configdrive, bytes)
        payload = configdrive
        if max_compressed_size is not None and len(payload) > max_compressed_size:
            raise _compressed_too_large(len(payload), max_compressed_size)
    gzipped = payload.startswith(_GZIP_MAGIC)
    if gzipped:
        chunks = _inflate(payload, max_size)
        if keep:
            whole = b"".join(chunks)
            iso: bytes | None = whole
            header, size = whole[:ISO_HEADER_SIZE], len(whole)
        else:
            iso = None
            header, size = _measure(chunks)
    else:
        iso = payload if keep else None
        header, size = payload[:ISO_HEADER_SIZE], len(payload)
        if parse_iso_volume(header) is None:
            raise NotGzip("configdrive is neither gzip-compressed data nor an ISO 9660 image")
        if size > max_size:
            raise _too_large(max_size)
    label = _check_iso(header, size)
    image = ConfigDriveImage(size=size, label=label, compressed_size=len(payload),
                             gzipped=gzipped, max_size=max_size, payload=payload)
    return image, iso


def _unbase64(configdrive: str | bytes, limit: int | None) -> bytes | None:
    """Strict base64 with whitespace ignored; None for bytes that are not base64."""
    if isinstance(configdrive, str):
        try:
            text = configdrive.encode("ascii")
        except UnicodeEncodeError:
            raise NotBase64("configdrive is neither a URL nor base64: it has non-ASCII "
                            "characters") from None
    else:
        text = configdrive
    text = text.translate(None, _WHITESPACE)
    # Refuse before decoding: base64 is 4 characters for 3 bytes.
    if limit is not None and len(text) // 4 * 3 > limit + 2:
        raise _compressed_too_large(len(text) // 4 * 3, limit)
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except binascii.Error as exc:
        if isinstance(configdrive, bytes):
            return None
        raise NotBase64(f"configdrive is neither a URL nor base64: {exc}") from None


def _inflate(payload: bytes, limit: int) -> Iterator[bytes]:
    """Yield the decompressed chunks of one or more gzip members, at most ``limit`` bytes."""
    view = memoryview(payload)
    position = 0
    total = 0
    while True:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        pending: bytes | memoryview = b""
        while not inflater.eof:
            if not pending and position < len(view):
                pending = view[position:position + _CHUNK]
                position += len(pending)
            try:
                # At most limit - total + 1 bytes out: one byte over proves it is too big.
                out = inflater.decompress(pending, min(_CHUNK, limit - total + 1))
            except zlib.error as exc:
                raise NotGzip(f"configdrive gzip data is corrupt: {exc}") from None
            pending = inflater.unconsumed_tail
            if not out and not pending and position >= len(view) and not inflater.eof:
                raise NotGzip("configdrive gzip data is truncated")
            total += len(out)
            if total > limit:
                raise _too_large(limit)
            if out:
                yield out
        position -= len(inflater.unused_data)
        rest = view[position:]
        # Several gzip members concatenate (gzip(1) semantics); zero padding is tolerated.
        if rest[:2] == _GZIP_MAGIC:
            continue
        if rest.tobytes().strip(b"\0"):
            raise NotGzip("configdrive has trailing data after the gzip stream")
        return


def _measure(chunks: Iterator[bytes]) -> tuple[bytes, int]:
    """The first ISO_HEADER_SIZE bytes and the total size, keeping nothing else."""
    header = bytearray()
    size = 0
    for chunk in chunks:
        if len(header) < ISO_HEADER_SIZE:
            header += chunk[:ISO_HEADER_SIZE - len(header)]
        size += len(chunk)
    return bytes(header), size


def _check_iso(header: bytes, size: int) -> str:
    volume = parse_iso_volume(header)
    if volume is None:
        raise NotISO("configdrive is not an ISO 9660 image: no primary volume descriptor "
                     "at byte 32768")
    if size < volume.size:
        raise NotISO(f"configdrive ISO 9660 image is truncated: {size} bytes, its volume "
                     f"descriptor says {volume.size}")
    if not is_config_drive_label(volume.label):
        raise WrongLabel(f"configdrive ISO 9660 volume label is {volume.label!r}, "
                         f"expected {LABEL!r}")
    return volume.label


def _too_large(limit: int) -> ConfigDriveTooLarge:
    return ConfigDriveTooLarge(f"configdrive is larger than {_human(limit)} once "
                               f"decompressed")


def _compressed_too_large(size: int, limit: int) -> ConfigDriveTooLarge:
    return ConfigDriveTooLarge(f"configdrive is too large: {size} bytes compressed, "
                               f"at most {_human(limit)}")


def _human(size: int) -> str:
    return f"{size // MiB} MiB" if size % MiB == 0 else f"{size} bytes"
