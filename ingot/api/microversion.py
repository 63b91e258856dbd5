"""API microversions: what ingot implements and how a request picks one.

The proxy serves the range its sites share, known only at run time, so parsing takes
the range as an argument.
"""

from __future__ import annotations

import dataclasses
import re

from ingot.api.errors import BadRequest, NotAcceptable

MIN_MINOR = 1
# Ironic 39's newest version (1.115), so its clients negotiate nothing; docs/api.md lists
# what ingot does not implement yet.
MAX_MINOR = 115

# From 1.91 a trailing ".json" is part of the name it follows.
NO_JSON_SUFFIX_MINOR = 91

HEADER = "x-openstack-ironic-api-version"
GENERIC_HEADER = "openstack-api-version"
_VERSION = re.compile(r"^1\.(\d{1,4})$")


@dataclasses.dataclass(frozen=True, slots=True, order=True)
class Version:
    minor: int

    def __str__(self) -> str:
        return f"1.{self.minor}"


def parse_version(raw: str) -> Version:
    """A '1.x' version string (ValueError otherwise)."""
    match = _VERSION.match(raw.strip())
    if not match:
        raise ValueError(f"not a 1.x microversion: {raw!r}")
    return Version(int(match.group(1)))


@dataclasses.dataclass(frozen=True, slots=True)
class VersionRange:
    low: Version
    high: Version

    def __str__(self) -> str:
        return f"[{self.low}, {self.high}]"

    def intersect(self, other: VersionRange) -> VersionRange | None:
        low, high = max(self.low, other.low), min(self.high, other.high)
        return VersionRange(low, high) if low <= high else None

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [(b"x-openstack-ironic-api-minimum-version", str(self.low).encode()),
                (b"x-openstack-ironic-api-maximum-version", str(self.high).encode())]


MIN = Version(MIN_MINOR)
MAX = Version(MAX_MINOR)
INGOT = VersionRange(MIN, MAX)


def parse(ironic_header: str | None, generic_header: str | None,
          supported: VersionRange = INGOT, who: str = "this service") -> Version:
    """The version a request asks for; no header means the lowest, as in Ironic."""
    raw = ironic_header
    if raw is None and generic_header is not None:
        # "OpenStack-API-Version: baremetal 1.56" (may list several services)
        for item in generic_header.split(","):
            service, _, value = item.strip().partition(" ")
            if service.lower() == "baremetal":
                raw = value.strip()
                break
    if raw is None:
        return supported.low
    raw = raw.strip()
    if raw.lower() == "latest":
        return supported.high
    match = _VERSION.match(raw)
    if not match:
        if re.match(r"^\d+\.\d+$", raw):
            raise NotAcceptable(f"Version {raw} was requested but the major version is not "
                                f"supported by {who}. The supported version range is: "
                                f"{supported}.")
        raise BadRequest(f"Invalid value for {HEADER} header: {raw!r}. Expected "
                         f"'1.<minor>' or 'latest'.")
    version = Version(int(match.group(1)))
    if not supported.low <= version <= supported.high:
        raise NotAcceptable(f"Version {raw} was requested but the minor version is not "
                            f"supported by {who}. The supported version range is: "
                            f"{supported}.")
    return version


def version_headers(version: Version) -> list[tuple[bytes, bytes]]:
    value = str(version).encode()
    return [(b"x-openstack-ironic-api-version", value),
            (b"openstack-api-version", b"baremetal " + value)]
