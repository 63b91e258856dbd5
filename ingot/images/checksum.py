"""The digest an image must have, from IPA's ``image_info``.

Sources, in order: ``os_hash_algo`` + ``os_hash_value`` (the value may be the URL of a
checksum file), then ``checksum`` (a digest whose algorithm follows from its length, an
``algo:digest`` pair, or the URL of a checksum file). MD5 is refused unless allowed.
Comparison is case-insensitive. Checksum files are fetched by a caller-supplied
function so that they go through the same proxy policy as the image.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import posixpath
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

# Fetches a (small) checksum file and returns its text.
FetchText = Callable[[str], str]

_HEX = re.compile(r"^[0-9a-fA-F]+$")
_BY_LENGTH = {128: "sha512", 64: "sha256", 32: "md5"}
_PREFIXED = re.compile(r"^(?P<algo>[a-z0-9_-]+):(?P<digest>[0-9a-fA-F]+)$")
# "digest  name" / "digest *name" (GNU coreutils)
_GNU_LINE = re.compile(r"^(?P<digest>[0-9a-fA-F]+)\s+\*?(?P<name>.+)$")
# "SHA256 (name) = digest" (BSD, CentOS CHECKSUM files)
_BSD_LINE = re.compile(r"^(?P<algo>[A-Za-z0-9-]+)\s*\((?P<name>.+)\)\s*=\s*"
                       r"(?P<digest>[0-9a-fA-F]+)$")


class ChecksumError(ValueError):
    """No usable expected digest could be determined; the message says why."""


class ChecksumMismatch(RuntimeError):
    """The data's digest differs from the expected one."""


@dataclasses.dataclass(frozen=True)
class ExpectedDigest:
    algorithm: str  # a hashlib name, lower case
    value: str  # hex, lower case
    source: str  # where it came from, for messages: "os_hash_value", a URL...

    def __post_init__(self) -> None:
        object.__setattr__(self, "algorithm", self.algorithm.lower())
        object.__setattr__(self, "value", self.value.lower())

    def new_hash(self) -> Any:
        return hashlib.new(self.algorithm)

    def matches(self, hexdigest: str) -> bool:
        return hmac.compare_digest(self.value, hexdigest.lower())

    def verify(self, hexdigest: str, what: str) -> None:
        """Raise ChecksumMismatch naming ``what`` unless ``hexdigest`` matches."""
        if not self.matches(hexdigest):
            raise ChecksumMismatch(
                f"Checksum mismatch for {what}: expected {self.algorithm} {self.value} "
                f"(from {self.source}), got {hexdigest.lower()}.")


def is_url(value: str) -> bool:
    return urlsplit(value).scheme.lower() in ("http", "https")


def url_basename(url: str) -> str:
    return posixpath.basename(unquote(urlsplit(url).path))


def _algorithm_by_length(digest: str, allow_md5: bool, source: str) -> str:
    algorithm = _BY_LENGTH.get(len(digest))
    if algorithm is None:
        raise ChecksumError(f"Cannot tell the algorithm of the {len(digest)}-character "
                            f"digest from {source}; use 64 (sha256) or 128 (sha512) hex "
                            f"digits, or set os_hash_algo.")
    if algorithm == "md5" and not allow_md5:
        raise ChecksumError(f"The digest from {source} is MD5, which is not allowed; "
                            f"provide os_hash_algo/os_hash_value (sha256 or sha512).")
    return algorithm


def _digest(algorithm: str, digest: str, source: str, allow_md5: bool) -> ExpectedDigest:
    algorithm = algorithm.lower().replace("-", "")
    if algorithm not in hashlib.algorithms_available:
        raise ChecksumError(f"Unsupported hash algorithm {algorithm!r} from {source}.")
    if algorithm == "md5" and not allow_md5:
        raise ChecksumError(f"MD5 from {source} is not allowed; use sha256 or sha512.")
    if not _HEX.match(digest):
        raise ChecksumError(f"The digest from {source} is not hexadecimal: {digest!r}.")
    expected_length = hashlib.new(algorithm).digest_size * 2
    if len(digest) != expected_length:
        raise ChecksumError(f"The digest from {source} has {len(digest)} hex digits but "
                            f"{algorithm} digests have {expected_length}.")
    return ExpectedDigest(algorithm, digest.lower(), source)


def parse_checksum_file(text: str, image_url: str) -> tuple[str | None, str]:
    """The (algorithm or None, digest) for ``image_url`` in a checksum file's text.

    A file with a single bare digest applies to any image; otherwise the line naming
    the image URL's basename is used (GNU ``digest  name``/``digest *name`` or BSD
    ``ALGO (name) = digest``; ``name`` may carry a directory prefix).
    """
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    if len(lines) == 1 and _HEX.match(lines[0]):
        return None, lines[0]
    filename = url_basename(image_url)
    if not filename:
        raise ChecksumError(f"Cannot pick a line of the checksum file: the image URL "
                            f"{image_url} has no file name.")
    name_pattern = re.compile(r"(?:^|/)" + re.escape(filename) + r"$")
    for line in lines:
        bsd = _BSD_LINE.match(line)
        if bsd and name_pattern.search(bsd["name"].strip()):
            return bsd["algo"], bsd["digest"]
        gnu = _GNU_LINE.match(line)
        if gnu and name_pattern.search(gnu["name"].strip()):
            return None, gnu["digest"]
    raise ChecksumError(f"The checksum file has no entry for {filename!r}.")


def _resolve(value: str, image_url: str, fetch_text: FetchText | None,
             source: str) -> tuple[str | None, str, str]:
    """(algorithm hint, digest, source) for a digest or a checksum file URL."""
    if not is_url(value):
        return None, value.strip(), source
    if fetch_text is None:
        raise ChecksumError(f"{source} is a URL ({value}) but no way to fetch it was "
                            f"given.")
    try:
        text = fetch_text(value)
    except Exception as exc:
        raise ChecksumError(f"Could not fetch the checksum file {value}: {exc}") from exc
    algorithm, digest = parse_checksum_file(text, image_url)
    return algorithm, digest, f"checksum file {value}"


def expected_digest(image_info: Mapping[str, Any], *, allow_md5: bool = False,
                    fetch_text: FetchText | None = None) -> ExpectedDigest:
    """The digest the image of ``image_info`` must have. Raises ChecksumError."""
    urls = image_info.get("urls") or []
    image_url = urls[0] if urls and isinstance(urls[0], str) else ""
    algo = image_info.get("os_hash_algo")
    value = image_info.get("os_hash_value")
    checksum = image_info.get("checksum")
    if algo or value:
        if not (isinstance(algo, str) and algo and isinstance(value, str) and value):
            raise ChecksumError("os_hash_algo and os_hash_value must both be non-empty "
                                "strings when either is set.")
        unsupported = algo.lower().replace("-", "") not in hashlib.algorithms_available
        if not unsupported or not checksum:
            hint, digest, source = _resolve(value, image_url, fetch_text, "os_hash_value")
            if hint and hint.lower().replace("-", "") != algo.lower().replace("-", ""):
                raise ChecksumError(f"{source} gives a {hint} digest but os_hash_algo is "
                                    f"{algo}.")
            return _digest(algo, digest, source, allow_md5)
    if checksum:
        if not isinstance(checksum, str):
            raise ChecksumError("checksum must be a string.")
        prefixed = _PREFIXED.match(checksum.strip())
        if prefixed and not is_url(checksum):
            return _digest(prefixed["algo"], prefixed["digest"], "checksum", allow_md5)
        hint, digest, source = _resolve(checksum, image_url, fetch_text, "checksum")
        if hint is None:
            if not _HEX.match(digest):
                raise ChecksumError(f"The digest from {source} is not hexadecimal.")
            hint = _algorithm_by_length(digest, allow_md5, source)
        return _digest(hint, digest, source, allow_md5)
    raise ChecksumError("Image checksum is not available: set os_hash_algo and "
                        "os_hash_value, or checksum, for image verification.")


def require_checksum_fields(image_info: Mapping[str, Any], *, allow_md5: bool) -> None:
    """Cheap up-front check (no fetching) that ``image_info`` names a usable digest."""
    checksum = image_info.get("checksum")
    if image_info.get("os_hash_algo") or image_info.get("os_hash_value"):
        return
    if isinstance(checksum, str) and checksum:
        if is_url(checksum) or _PREFIXED.match(checksum.strip()):
            return
        _algorithm_by_length(checksum.strip(), allow_md5, "checksum")
        return
    raise ChecksumError("Image checksum is not available: set os_hash_algo and "
                        "os_hash_value, or checksum, for image verification.")
