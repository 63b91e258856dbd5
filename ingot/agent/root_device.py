"""Choosing the disk to install on, as ironic-python-agent does: by the node's root
device hints (``properties/root_device``), or else the smallest disk of at least 4 GiB.

Hints as Ironic documents them: ``size`` in GiB (an integer, or with an operator:
``>= 10``, ``<= 100``, ``== 20``, ``!= 8``, ``> 4``, ``< 50``), ``rotational`` a
boolean, the others strings (``name``, ``model``, ``vendor``, ``serial``, ``wwn``,
``hctl``, ``by_path``) compared case-insensitively, as is or with an operator (``s==``,
``s!=``, ``<in>`` for a substring, ``<or>`` between alternatives). All given hints must
match; the first matching disk (by name) wins.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ingot.agent.disks import Disk

GiB = 1 << 30
MIN_SIZE = 4 * GiB
STRING_HINTS = ("name", "model", "vendor", "serial", "wwn", "hctl", "by_path")
HINTS = (*STRING_HINTS, "size", "rotational")
_NUMBER_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, ">=": operator.ge, "<=": operator.le,
    ">": operator.gt, "<": operator.lt}
_NUMBER = re.compile(r"^\s*(==|!=|>=|<=|>|<)?\s*(\d+)\s*$")


class NoRootDevice(RuntimeError):
    """No disk matches; the message lists the disks seen."""


class InvalidHints(ValueError):
    """The hints themselves are malformed; the message names the hint."""


def _size_matcher(value: Any) -> Callable[[Disk], bool]:
    match = _NUMBER.match(str(value)) if not isinstance(value, bool) else None
    if match is None:
        raise InvalidHints(f"root device hint size must be GiB, optionally after one "
                           f"of {' '.join(_NUMBER_OPS)}; got {value!r}")
    compare = _NUMBER_OPS[match.group(1) or "=="]
    wanted = int(match.group(2))
    return lambda disk: compare(disk.size // GiB, wanted)


def _bool_matcher(value: Any) -> Callable[[Disk], bool]:
    text = str(value).strip().lower()
    if text not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
        raise InvalidHints(f"root device hint rotational must be a boolean, got {value!r}")
    wanted = text in ("true", "1", "yes", "on")
    return lambda disk: disk.rotational == wanted


def _normal(name: str, text: str) -> str:
    text = text.strip().lower()
    if name == "name" and text and not text.startswith("/dev/"):
        text = f"/dev/{text}"  # Ironic accepts "sda" for "/dev/sda"
    return text


def _string_matcher(name: str, value: Any) -> Callable[[Disk], bool]:
    if not isinstance(value, str) or not value.strip():
        raise InvalidHints(f"root device hint {name} must be a non-empty string, "
                           f"got {value!r}")
    text = value.strip()
    if text.startswith("<or>"):
        choices = {_normal(name, part) for part in text[4:].split("<or>") if part.strip()}
        return lambda disk: _normal(name, getattr(disk, name)) in choices
    if text.startswith("<in>"):
        part = text[4:].strip().lower()
        return lambda disk: part in getattr(disk, name).lower()
    if text.startswith("s!="):
        other = _normal(name, text[3:])
        return lambda disk: _normal(name, getattr(disk, name)) != other
    wanted = _normal(name, text[3:] if text.startswith("s==") else text)
    return lambda disk: _normal(name, getattr(disk, name)) == wanted


def _matchers(hints: Mapping[str, Any]) -> list[Callable[[Disk], bool]]:
    unknown = sorted(set(hints) - set(HINTS))
    if unknown:
        raise InvalidHints(f"unknown root device hint(s) {', '.join(unknown)}; known: "
                           f"{', '.join(HINTS)}")
    matchers = []
    for name, value in hints.items():
        if name == "size":
            matchers.append(_size_matcher(value))
        elif name == "rotational":
            matchers.append(_bool_matcher(value))
        else:
            matchers.append(_string_matcher(name, value))
    return matchers


def choose(disks: Sequence[Disk], hints: Mapping[str, Any] | None) -> Disk:
    """The disk to install on. Raises NoRootDevice or InvalidHints."""
    seen = ", ".join(f"{d.name} ({d.size // GiB} GiB)" for d in disks) or "none"
    if hints:
        matchers = _matchers(hints)
        for disk in disks:
            if all(match(disk) for match in matchers):
                return disk
        raise NoRootDevice(f"no disk matches the root device hints {dict(hints)}; "
                           f"disks: {seen}")
    large = [disk for disk in disks if disk.size >= MIN_SIZE]
    if not large:
        raise NoRootDevice(f"no disk of at least {MIN_SIZE // GiB} GiB; disks: {seen}")
    return min(large, key=lambda disk: (disk.size, disk.name))
