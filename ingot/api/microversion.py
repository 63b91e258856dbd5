"""API microversions: what ingot implements and how a request picks one."""

from __future__ import annotations

import dataclasses
import re

from ingot.api.errors import BadRequest, NotAcceptable

MIN_MINOR = 1
# The newest version whose every change to the resources ingot serves it implements
# (1.73: deploy/undeploy verbs). Resources ingot does not have (portgroups, volume
# targets, allocations, deploy templates, chassis) answer 404; docs/api.md lists them.
MAX_MINOR = 73

HEADER = "x-openstack-ironic-api-version"
GENERIC_HEADER = "openstack-api-version"
_VERSION = re.compile(r"^1\.(\d{1,4})$")


@dataclasses.dataclass(frozen=True, slots=True, order=True)
class Version:
    minor: int

    def __str__(self) -> str:
        return f"1.{self.minor}"


MIN = Version(MIN_MINOR)
MAX = Version(MAX_MINOR)


def _range_message(requested: str) -> str:
    return (f"Version {requested} was requested but the minor version is not supported by "
            f"this service. The supported version range is: [{MIN}, {MAX}].")


def parse(ironic_header: str | None, generic_header: str | None) -> Version:
    """The version a request asks for; no header means the minimum, as in Ironic."""
    raw = ironic_header
    if raw is None and generic_header is not None:
        # "OpenStack-API-Version: baremetal 1.56" (may list several services)
        for item in generic_header.split(","):
            service, _, value = item.strip().partition(" ")
            if service.lower() == "baremetal":
                raw = value.strip()
                break
    if raw is None:
        return MIN
    raw = raw.strip()
    if raw.lower() == "latest":
        return MAX
    match = _VERSION.match(raw)
    if not match:
        if re.match(r"^\d+\.\d+$", raw):
            raise NotAcceptable(f"Version {raw} was requested but the major version is not "
                                f"supported by this service. The supported version range "
                                f"is: [{MIN}, {MAX}].")
        raise BadRequest(f"Invalid value for {HEADER} header: {raw!r}. Expected "
                         f"'1.<minor>' or 'latest'.")
    version = Version(int(match.group(1)))
    if not MIN <= version <= MAX:
        raise NotAcceptable(_range_message(raw))
    return version


def range_headers() -> list[tuple[bytes, bytes]]:
    return [
        (b"x-openstack-ironic-api-minimum-version", str(MIN).encode()),
        (b"x-openstack-ironic-api-maximum-version", str(MAX).encode()),
    ]


def version_headers(version: Version) -> list[tuple[bytes, bytes]]:
    value = str(version).encode()
    return [(b"x-openstack-ironic-api-version", value),
            (b"openstack-api-version", b"baremetal " + value)]
