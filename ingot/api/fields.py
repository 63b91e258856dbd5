"""Every API resource's fields as one declarative table each.

A resource (node, port, chassis, ...) lists its fields in Ironic's order with, for
each: the microversion that introduced it, how a written value is checked, whether
create and/or JSON patch may write it, its default, whether its value is masked, and
its OpenAPI schema. The views, the ``fields`` query parameter, create bodies, patches
and version gating all read this table, so a new resource is a table and its handlers.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from ingot.api.errors import BadRequest, NotAcceptable
from ingot.common.redaction import redact, redact_text

Check = Callable[[str, Any], Any]
Show = Callable[[Any], Any]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


# A field a JSON patch removed (handed to a check or to Resource.patched).
MISSING: Any = _Missing()


def timestamp(value: datetime.datetime | None) -> str | None:
    return None if value is None else value.isoformat() + "+00:00"


def links(base: str, kind: str, ident: str, suffix: str = "") -> list[dict[str, str]]:
    return [{"href": f"{base}/v1/{kind}/{ident}{suffix}", "rel": "self"},
            {"href": f"{base}/{kind}/{ident}{suffix}", "rel": "bookmark"}]


@dataclasses.dataclass(frozen=True, slots=True)
class Field:
    """One field. check None means read-only: shown, never written by a request."""

    name: str
    since: int = 1
    check: Check | None = None
    create: bool = True
    patch: bool = True
    default: Any = None
    required: bool = False
    # Masked in every answer (ingot.common.redaction): dicts by key, text by pattern.
    secret: bool = False
    # How the record's value shows; None: the attribute of the same name as it is.
    show: Show | None = None
    # The record's attributes that show reads; None: the one of the field's name.
    reads: tuple[str, ...] | None = None
    schema: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def writable_on_create(self) -> bool:
        return self.check is not None and self.create

    @property
    def writable_on_patch(self) -> bool:
        return self.check is not None and self.patch

    def fresh_default(self) -> Any:
        default = self.default
        if isinstance(default, dict):
            return dict(default)
        if isinstance(default, list):
            return list(default)
        return default


_DATETIME = datetime.datetime


def _shown(spec: Field, record: Any) -> Any:
    value = spec.show(record) if spec.show is not None else getattr(record, spec.name)
    if isinstance(value, datetime.datetime):
        return timestamp(value)
    if spec.secret:
        if isinstance(value, dict):
            return redact(value) if value else {}
        if isinstance(value, str):
            return redact_text(value)
    return value


class Resource:
    """The field table of one resource and what the API does with it."""

    def __init__(self, kind: str, fields: Iterable[Field], list_fields: Iterable[str],
                 *, fields_param_since: int = 8, extra_shown: Collection[str] = ()):
        self.kind = kind
        self.fields = tuple(fields)
        self.by_name = {spec.name: spec for spec in self.fields}
        self.list_fields = tuple(list_fields)
        self.fields_param_since = fields_param_since
        # Names the view adds itself (links, sub-resource links): read-only on writes.
        self.extra_shown = frozenset(extra_shown) | {"links"}
        self._names_at: dict[tuple[int, bool], tuple[str, ...]] = {}
        self._plans: dict[tuple[str, ...], tuple[tuple[str, Field | None], ...]] = {}

    def since(self, name: str) -> int:
        spec = self.by_name.get(name)
        return spec.since if spec is not None else 1

    def versioned(self, *, leave_out: Collection[str] = ()) -> dict[str, int]:
        """The fields newer than the first microversion, with the version of each."""
        return {spec.name: spec.since for spec in self.fields
                if spec.since > 1 and spec.name not in leave_out}

    def names_at(self, minor: int, detail: bool = True) -> tuple[str, ...]:
        # Asked for every record of a list: the table does not change, so once per kind.
        key = (minor, detail)
        found = self._names_at.get(key)
        if found is None:
            names = (spec.name for spec in self.fields) if detail else self.list_fields
            found = self._names_at[key] = tuple(name for name in names
                                                if self.since(name) <= minor)
        return found

    def parse_fields(self, raw: str | None, minor: int) -> tuple[str, ...] | None:
        """The ``fields`` query parameter: unknown names are a 400, too new ones a 406."""
        if raw is None:
            return None
        if minor < self.fields_param_since:
            raise NotAcceptable(f"The fields parameter needs API version "
                                f"1.{self.fields_param_since} or later.")
        names = tuple(dict.fromkeys(name.strip() for name in raw.split(",") if name.strip()))
        unknown = [name for name in names if name not in self.by_name]
        if unknown:
            raise BadRequest(f"Field(s) \"{', '.join(unknown)}\" are not valid.")
        too_new = [name for name in names if self.since(name) > minor]
        if too_new:
            raise NotAcceptable(f"Field(s) \"{', '.join(too_new)}\" need a newer API "
                                f"version than 1.{minor}.")
        return names

    def reads(self, names: Iterable[str]) -> set[str]:
        """The record's attributes a view of these fields reads."""
        found: set[str] = set()
        for name in names:
            spec = self.by_name[name]
            found.update((name,) if spec.reads is None else spec.reads)
        return found

    def view(self, record: Any, names: Iterable[str]) -> dict[str, Any]:
        key = names if isinstance(names, tuple) else tuple(names)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plan(key)
        out: dict[str, Any] = {}
        for name, spec in plan:
            if spec is None:
                value = getattr(record, name)
                out[name] = timestamp(value) if type(value) is _DATETIME else value
            else:
                out[name] = _shown(spec, record)
        return out

    def _plan(self, names: tuple[str, ...]) -> tuple[tuple[str, Field | None], ...]:
        """What view does per field: None for an attribute shown as it is (or as a
        timestamp), which is most of them, and cheaper than _shown's checks. Lists show
        each record with the same names, so the plan is made once per set of names;
        the cache is bounded, as ``fields`` can name any combination."""
        plan = tuple((name, spec if spec.show is not None or spec.secret else None)
                     for name, spec in ((name, self.by_name[name]) for name in names))
        if len(self._plans) >= 256:
            self._plans.clear()
        self._plans[names] = plan
        return plan

    def check_version(self, name: str, minor: int) -> None:
        if self.since(name) > minor:
            raise NotAcceptable(f"Field \"{name}\" needs API version 1.{self.since(name)} "
                                f"or later; this request uses 1.{minor}.")

    def creation_values(self, body: Mapping[str, Any], minor: int) -> dict[str, Any]:
        """Checked values of a create body (only the fields it names)."""
        refused = [key for key in body
                   if key not in self.by_name or not self.by_name[key].writable_on_create]
        if refused:
            read_only = [key for key in refused
                         if key in self.by_name or key in self.extra_shown]
            if read_only:
                raise BadRequest(f"Cannot set {', '.join(read_only)} when creating a "
                                 f"{self.kind}: read-only field.")
            raise BadRequest(f"Unknown field(s) in {self.kind}: {', '.join(sorted(refused))}.")
        for spec in self.fields:
            if spec.required and spec.name not in body:
                raise BadRequest(f"Missing required field {spec.name}.")
        values: dict[str, Any] = {}
        for name, raw in body.items():
            self.check_version(name, minor)
            check = self.by_name[name].check
            assert check is not None
            values[name] = check(name, raw)
        return values

    def defaults(self) -> dict[str, Any]:
        """What a new record holds in the fields a create body leaves out."""
        return {spec.name: spec.fresh_default() for spec in self.fields
                if spec.default is not None}

    def patchable(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.fields if spec.writable_on_patch)

    def patched(self, name: str, raw: Any, minor: int) -> Any:
        """The checked value of one top-level field after a patch (MISSING: removed)."""
        spec = self.by_name.get(name)
        if spec is None or not spec.writable_on_patch:
            if spec is not None or name in self.extra_shown:
                raise BadRequest(f"'/{name}' is an internal attribute and can not be "
                                 f"updated.")
            raise BadRequest(f"'/{name}' is not a {self.kind} field.")
        self.check_version(name, minor)
        if raw is MISSING:
            if spec.required:
                raise BadRequest(f"'/{name}' is mandatory and cannot be removed.")
            return spec.fresh_default()
        assert spec.check is not None
        return spec.check(name, raw)
