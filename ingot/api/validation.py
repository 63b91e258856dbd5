"""Checks and conversions of API input values; messages name the field."""

from __future__ import annotations

import re
import uuid
from typing import Any

from ingot.api.errors import BadRequest

_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                   r"[0-9a-fA-F]{12}$")
# RFC 3986 unreserved characters, as Ironic allows since API 1.10.
_LOGICAL_NAME = re.compile(r"^[A-Za-z0-9\-._~]+$")
_MAC = re.compile(r"^([0-9a-fA-F]{2})([:-]?)([0-9a-fA-F]{2})(\2[0-9a-fA-F]{2}){4}$")
_TRAIT = re.compile(r"^(CUSTOM_[A-Z0-9_]+|[A-Z][A-Z0-9_]*)$")

_TRUE = {"true", "1", "yes", "on", "y", "t"}
_FALSE = {"false", "0", "no", "off", "n", "f"}


def looks_like_uuid(value: str) -> bool:
    return bool(_UUID.match(value))


def uuid_ident(name: str, value: str) -> str:
    """A path's identifier that must be a UUID (Ironic's args.uuid: 400 otherwise)."""
    if not looks_like_uuid(value):
        raise BadRequest(f"Expected UUID for {name}: {value}")
    return value


def uuid_or_name_ident(name: str, value: str) -> str:
    """A path's identifier that must be a UUID or a logical name (Ironic's
    args.uuid_or_name): a MAC address or "malformed:uuid" is a 400, not a 404."""
    if not looks_like_uuid(value) and not (len(value) <= 255 and _LOGICAL_NAME.match(value)):
        raise BadRequest(f"Expected UUID or name for {name}: {value}")
    return value


def uuid_value(field: str, value: Any) -> str:
    if not isinstance(value, str) or not looks_like_uuid(value):
        raise BadRequest(f"Expected a UUID for {field}, got {value!r}.")
    return str(uuid.UUID(value))


def name_value(field: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > 255 \
            or not _LOGICAL_NAME.match(value):
        raise BadRequest(f"Cannot use {value!r} as {field}: a name must be 1-255 characters "
                         f"from A-Z a-z 0-9 - . _ ~.")
    if looks_like_uuid(value):
        raise BadRequest(f"Cannot use {value!r} as {field}: a name must not look like a UUID.")
    return value


def mac_value(field: str, value: Any) -> str:
    if not isinstance(value, str) or not _MAC.match(value.strip()):
        raise BadRequest(f"Expected a MAC address for {field}, got {value!r}.")
    digits = re.sub(r"[:-]", "", value.strip()).lower()
    return ":".join(digits[i:i + 2] for i in range(0, 12, 2))


def bool_value(field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    raise BadRequest(f"Expected a boolean for {field}, got {value!r}.")


def optional_bool(field: str, value: Any) -> bool | None:
    return None if value is None else bool_value(field, value)


def string_value(field: str, value: Any, *, max_length: int | None = None,
                 nullable: bool = True) -> str | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"Expected a string for {field}, got {type(value).__name__}.")
    if max_length is not None and len(value) > max_length:
        raise BadRequest(f"{field} is longer than {max_length} characters.")
    return value


def dict_value(field: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"Expected an object for {field}, got {type(value).__name__}.")
    return value


def trait_value(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 255 or not _TRAIT.match(value):
        raise BadRequest(f"Invalid trait {value!r}: a trait is a standard trait name or "
                         f"CUSTOM_ followed by A-Z, 0-9 and _.")
    return value


def int_param(name: str, value: str | None, *, minimum: int | None = 0) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"Invalid value for {name}: {value!r} is not an integer.") from None
    if minimum is not None and number < minimum:
        raise BadRequest(f"Invalid value for {name}: must be at least {minimum}.")
    return number


def unique_steps(steps: list[dict[str, Any]], duplicate: str) -> list[dict[str, Any]]:
    """steps, refused with the message duplicate (formatted with interface and step) if
    one interface's step appears twice: deploy templates and runbooks share the rule."""
    seen: set[tuple[str, str]] = set()
    for step in steps:
        key = (step["interface"], step["step"])
        if key in seen:
            raise BadRequest(duplicate.format(interface=key[0], step=key[1]))
        seen.add(key)
    return steps
