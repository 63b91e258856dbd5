"""Inspection rules, as Ironic's (API 1.96): each rule has conditions and actions; when
every condition holds for an inventory, its actions run, in order.

A condition is ``{"op": OP, "args": ARGS}`` (``"!OP"`` inverts it), optionally with
``"loop": [...]`` and ``"multiple": "any"|"all"|"first"|"last"``; an action is
``{"op": OP, "args": ARGS}``, optionally with ``"loop"``. ARGS is an object or a list
in the operation's argument order (for ``eq``, ``lt`` and ``gt``: the values compared).
String arguments may name values of the inventory, the plugin data, the node and the
loop item: ``{inventory[cpu][count]}``, ``{plugin_data[root_disk][name]}``,
``{node.driver}``, ``{item}``. A string that is one
such reference alone takes the value with its type; within other text, its text.
Unlike Ironic's (Python's str.format), references only read data: a node's fields,
mapping keys and list indexes.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import itertools
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ingot.inspection.properties import format_capabilities, parse_capabilities

LOG = logging.getLogger(__name__)

PHASES = ("main",)
MAX_PRIORITY = 9999
_MULTIPLE = ("any", "all", "first", "last")


class InvalidRule(ValueError):
    """A rule is malformed; the message names the field."""


class RuleFailed(RuntimeError):
    """A rule's ``fail`` action ran, or an action could not be applied."""


@dataclasses.dataclass(frozen=True, slots=True)
class Signature:
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    formatted: tuple[str, ...] = ()


CONDITIONS: dict[str, Signature] = {
    **{op: Signature(("values",), ("force_strings",), ("values",))
       for op in ("eq", "lt", "gt")},
    **{op: Signature(("value",), (), ("value",))
       for op in ("is-empty", "is-none", "is-true", "is-false")},
    "in-net": Signature(("address", "subnet"), (), ("address", "subnet")),
    "matches": Signature(("value", "regex"), (), ("value",)),
    "contains": Signature(("value", "regex"), (), ("value",)),
    "one-of": Signature(("value",), ("values",), ("value",)),
}
ACTIONS: dict[str, Signature] = {
    "fail": Signature(("msg",), (), ("msg",)),
    "log": Signature(("msg",), ("level",), ("msg",)),
    "set-attribute": Signature(("path", "value"), (), ("value",)),
    "extend-attribute": Signature(("path", "value"), ("unique",), ("value",)),
    "del-attribute": Signature(("path",)),
    "set-capability": Signature(("name", "value"), (), ("value",)),
    "unset-capability": Signature(("name",)),
    "add-trait": Signature(("name",), (), ("name",)),
    "remove-trait": Signature(("name",), (), ("name",)),
    "set-plugin-data": Signature(("path", "value"), (), ("value",)),
    "extend-plugin-data": Signature(("path", "value"), ("unique",), ("value",)),
    "unset-plugin-data": Signature(("path",)),
}
# Node fields a rule may set (set-attribute and friends): what an operator may PATCH,
# less the name (unique) and the fields the state machine owns.
SETTABLE = frozenset({
    "driver", "driver_info", "properties", "extra", "instance_info", "resource_class",
    "description", "owner", "lessee", "network_data", "automated_clean",
    *(f"{kind}_interface" for kind in (
        "bios", "boot", "console", "deploy", "inspect", "management", "network", "power",
        "raid", "rescue", "storage", "vendor")),
})
_DICT_FIELDS = frozenset({"driver_info", "properties", "extra", "instance_info",
                          "network_data"})


# --- checking rules ---------------------------------------------------------------------

def _args(op: str, raw: Any, signature: Signature, where: str) -> dict[str, Any]:
    if raw is None:
        raw = {}
    if isinstance(raw, list) and signature.required == ("values",):
        raw = {"values": raw}  # eq, lt, gt: a list is the values compared
    if isinstance(raw, list):
        names = signature.required + signature.optional
        if len(raw) > len(names):
            raise InvalidRule(f"{where}args: {op} takes at most {len(names)} arguments.")
        raw = dict(zip(names, raw, strict=False))
    if not isinstance(raw, dict):
        raise InvalidRule(f"{where}args must be a list or an object.")
    missing = [name for name in signature.required if name not in raw]
    unexpected = sorted(set(raw) - set(signature.required) - set(signature.optional))
    problems = []
    if missing:
        problems.append(f"missing required argument(s): {', '.join(missing)}")
    if unexpected:
        problems.append(f"unexpected argument(s): {', '.join(unexpected)}")
    if problems:
        raise InvalidRule(f"{where}args: {op}: {'; '.join(problems)}.")
    return dict(raw)


def _operation(raw: Any, table: Mapping[str, Signature], where: str, *,
               condition: bool) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise InvalidRule(f"{where[:-1]} must be an object.")
    allowed = {"op", "args", "loop"} | ({"multiple"} if condition else set())
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise InvalidRule(f"{where}: unknown field(s) {', '.join(unknown)}.")
    op = raw.get("op")
    if not isinstance(op, str):
        raise InvalidRule(f"{where}op must be a string.")
    name = op[1:] if condition and op.startswith("!") else op
    if name not in table:
        kind = "condition" if condition else "action"
        raise InvalidRule(f"{where}op: unsupported {kind} {op!r}; supported: "
                          f"{', '.join(table)}.")
    checked: dict[str, Any] = {"op": op,
                               "args": _args(name, raw.get("args"), table[name], where)}
    if name in ("matches", "contains"):
        regex = checked["args"]["regex"]
        try:
            re.compile(str(regex))
        except re.error as exc:
            raise InvalidRule(f"{where}args/regex: invalid regular expression: {exc}") \
                from None
    if "loop" in raw:
        if not isinstance(raw["loop"], (list, dict)):
            raise InvalidRule(f"{where}loop must be a list or an object.")
        checked["loop"] = raw["loop"]
    if "multiple" in raw:
        if raw["multiple"] not in _MULTIPLE:
            raise InvalidRule(f"{where}multiple must be one of {', '.join(_MULTIPLE)}.")
        checked["multiple"] = raw["multiple"]
    return checked


def check_conditions(raw: Any) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvalidRule("conditions must be a list.")
    return [_operation(item, CONDITIONS, f"conditions/{index}/", condition=True)
            for index, item in enumerate(raw)]


def check_actions(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        raise InvalidRule("actions must be a list of at least one action.")
    checked = [_operation(item, ACTIONS, f"actions/{index}/", condition=False)
               for index, item in enumerate(raw)]
    for index, action in enumerate(checked):
        if not action["op"].endswith("-attribute") or "loop" in action:
            continue
        path = action["args"]["path"]
        # A path with a placeholder, like one in a loop, is known only when the rule runs.
        if not (isinstance(path, str) and "{" in path):
            _path(path, f"actions/{index}/args/path")
    return checked


def check_priority(raw: Any, *, built_in: bool = False) -> int:
    if raw is None:
        return 0
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise InvalidRule("priority must be an integer.")
    if not built_in and not 0 <= raw <= MAX_PRIORITY:
        raise InvalidRule(f"priority must be between 0 and {MAX_PRIORITY}.")
    return raw


@dataclasses.dataclass(frozen=True, slots=True)
class Rule:
    uuid: str | None
    description: str | None
    priority: int
    conditions: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    sensitive: bool = False
    built_in: bool = False


def check_rule(raw: Mapping[str, Any], *, built_in: bool = False) -> Rule:
    """A rule as the API or the built-in rules file gives it, checked."""
    unknown = sorted(set(raw) - {"uuid", "description", "priority", "sensitive", "phase",
                                 "conditions", "actions"})
    if unknown:
        raise InvalidRule(f"Unknown field(s) in inspection rule: {', '.join(unknown)}.")
    description = raw.get("description")
    if description is not None and (not isinstance(description, str)
                                    or len(description) > 255):
        raise InvalidRule("description must be a string of at most 255 characters.")
    sensitive = raw.get("sensitive", False)
    if not isinstance(sensitive, bool):
        raise InvalidRule("sensitive must be a boolean.")
    phase = raw.get("phase", "main")
    if phase not in PHASES:
        raise InvalidRule(f"phase must be one of {', '.join(PHASES)}.")
    uuid = raw.get("uuid")
    return Rule(str(uuid) if uuid else None, description,
                check_priority(raw.get("priority"), built_in=built_in),
                check_conditions(raw.get("conditions")), check_actions(raw.get("actions")),
                sensitive, built_in)


# --- running rules ----------------------------------------------------------------------

@dataclasses.dataclass
class Target:
    """What the rules read and change: the node's fields (those in SETTABLE, plus
    read-only ones for references), its traits, the inventory and the plugin data."""

    node: dict[str, Any]
    traits: list[str]
    inventory: Mapping[str, Any]
    plugin_data: dict[str, Any]
    changed: set[str] = dataclasses.field(default_factory=set)


_REFERENCE = re.compile(r"\{([A-Za-z_]+)((?:\.[A-Za-z_][A-Za-z0-9_]*|\[[^\[\]{}]*\])*)\}")
_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[([^\[\]{}]*)\]")


class _Unresolved(LookupError):
    pass


def _resolve(root: Any, steps: str) -> Any:
    value = root
    for match in _STEP.finditer(steps):
        key = match.group(1) if match.group(1) is not None else match.group(2)
        if isinstance(value, Mapping) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.lstrip("-").isdigit() \
                and -len(value) <= int(key) < len(value):
            value = value[int(key)]
        else:
            raise _Unresolved(key)
    return value


def interpolate(value: Any, scope: Mapping[str, Any]) -> Any:
    """References replaced by the values they name (left as written if they name none,
    as Ironic does)."""
    if isinstance(value, dict):
        return {key: interpolate(item, scope) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, scope) for item in value]
    if not isinstance(value, str):
        return value
    whole = _REFERENCE.fullmatch(value)
    if whole and whole.group(1) in scope:
        try:
            return _resolve(scope[whole.group(1)], whole.group(2))
        except _Unresolved:
            return value

    def text(match: re.Match[str]) -> str:
        if match.group(1) not in scope:
            return match.group(0)
        try:
            return str(_resolve(scope[match.group(1)], match.group(2)))
        except _Unresolved:
            return match.group(0)

    return _REFERENCE.sub(text, value)


def _prepared(operation: Mapping[str, Any], signature: Signature, target: Target,
              item: Any, in_loop: bool) -> dict[str, Any]:
    scope = {"node": target.node, "inventory": target.inventory,
             "plugin_data": target.plugin_data}
    if in_loop:
        scope["item"] = item
    args = dict(operation["args"])
    return {name: interpolate(value, scope)
            if name in signature.formatted or in_loop else value
            for name, value in args.items()}


def _is_true(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    return isinstance(value, str) and value.lower() in ("yes", "true")


def _is_false(value: Any) -> bool:
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return not value
    if isinstance(value, str):
        return value.lower() in ("no", "false")
    return value is None


def _compare(op: str, values: Any, force_strings: bool) -> bool:
    if not isinstance(values, list):
        raise RuleFailed(f"condition {op}: values must be a list, got {values!r}")
    if force_strings:
        values = [str(value) for value in values]
    compare: Callable[[Any, Any], bool] = {
        "eq": lambda a, b: bool(a == b), "lt": lambda a, b: bool(a < b),
        "gt": lambda a, b: bool(a > b)}[op]
    try:
        return all(compare(a, b) for a, b in itertools.pairwise(values))
    except TypeError as exc:
        raise RuleFailed(f"condition {op}: cannot compare {values!r}: {exc}") from None


def _check(name: str, args: Mapping[str, Any]) -> bool:
    if name in ("eq", "lt", "gt"):
        return _compare(name, args["values"], bool(args.get("force_strings")))
    if name == "is-empty":
        return str(args["value"]) in ("", "None", "[]", "{}")
    if name == "is-none":
        return args["value"] is None or str(args["value"]) == "None"
    if name == "is-true":
        return _is_true(args["value"])
    if name == "is-false":
        return _is_false(args["value"])
    if name == "one-of":
        return args["value"] in (args.get("values") or [])
    if name == "in-net":
        try:
            return ipaddress.ip_address(str(args["address"])) in \
                ipaddress.ip_network(str(args["subnet"]), strict=False)
        except ValueError as exc:
            raise RuleFailed(f"condition in-net: {exc}") from None
    regex = str(args["regex"])
    if name == "matches":
        return re.match(regex if regex.endswith("$") else regex + "$",
                        str(args["value"])) is not None
    return re.search(regex, str(args["value"])) is not None  # contains


def _loop_items(operation: Mapping[str, Any]) -> list[Any] | None:
    loop = operation.get("loop")
    if not loop:
        return None
    return [loop] if isinstance(loop, dict) else list(loop)


def condition_holds(condition: Mapping[str, Any], target: Target) -> bool:
    op = condition["op"]
    inverted = op.startswith("!")
    name = op[1:] if inverted else op
    signature = CONDITIONS[name]

    def one(item: Any, in_loop: bool) -> bool:
        args = _prepared(condition, signature, target, item, in_loop)
        if in_loop and "force_strings" in signature.optional:
            args["force_strings"] = True
        result = _check(name, args)
        return not result if inverted else result

    items = _loop_items(condition)
    if items is None:
        return one(None, False)
    results = [one(item, True) for item in items]
    multiple = condition.get("multiple", "any")
    if multiple == "all":
        return all(results)
    if multiple == "first":
        return results[0] if results else False
    if multiple == "last":
        return results[-1] if results else False
    return any(results)


def _path(raw: Any, where: str = "path") -> list[str]:
    if not isinstance(raw, str) or not raw.strip("/."):
        raise InvalidRule(f"{where} must name a node field, such as "
                          f"/driver_info/ipmi_address.")
    text = raw.strip().lstrip("/")
    parts = [part for part in re.split(r"[/.]" if "/" not in text else "/", text) if part]
    if parts[0] not in SETTABLE:
        raise InvalidRule(f"{where}: rules cannot change the node's {parts[0]!r}; they may "
                          f"change {', '.join(sorted(SETTABLE))}.")
    if len(parts) > 1 and parts[0] not in _DICT_FIELDS:
        raise InvalidRule(f"{where}: the node's {parts[0]} has no fields.")
    return parts


def _container(target: Target, parts: Sequence[str], create: bool) -> dict[str, Any] | None:
    """The dict holding the last part of the path (None if absent and not create)."""
    top = parts[0]
    current: Any = target.node
    if len(parts) > 1:
        target.node[top] = current = dict(target.node.get(top) or {})
        for part in parts[1:-1]:
            nested = current.get(part)
            if not isinstance(nested, dict):
                if not create:
                    return None
                nested = {}
            current[part] = nested = dict(nested)
            current = nested
    target.changed.add(top)
    result: dict[str, Any] = current
    return result


def _set_attribute(target: Target, path: Any, value: Any) -> None:
    parts = _path(path)
    if len(parts) == 1 and parts[0] in _DICT_FIELDS and not isinstance(value, dict):
        raise RuleFailed(f"set-attribute {path}: the node's {parts[0]} must be an object.")
    container = _container(target, parts, create=True)
    assert container is not None
    container[parts[-1]] = value


def _extend_attribute(target: Target, path: Any, value: Any, unique: bool) -> None:
    parts = _path(path)
    container = _container(target, parts, create=True)
    assert container is not None
    current = container.get(parts[-1])
    if current is None:
        current = []
    if not isinstance(current, list):
        raise RuleFailed(f"extend-attribute {path}: not a list.")
    if not unique or value not in current:
        container[parts[-1]] = [*current, value]


def _del_attribute(target: Target, path: Any) -> None:
    parts = _path(path)
    container = _container(target, parts, create=False)
    if container is not None:
        if len(parts) == 1:
            container[parts[0]] = {} if parts[0] in _DICT_FIELDS else None
        else:
            container.pop(parts[-1], None)


def _plugin_path(raw: Any) -> list[str]:
    if not isinstance(raw, str) or not raw.strip("./"):
        raise RuleFailed(f"plugin data path must be a non-empty string, got {raw!r}")
    return [part for part in re.split(r"[./]", raw.strip("/")) if part]


def _plugin_container(target: Target, parts: Sequence[str]) -> dict[str, Any]:
    current = target.plugin_data
    for part in parts[:-1]:
        nested = current.get(part)
        if not isinstance(nested, dict):
            nested = current[part] = {}
        current = nested
    return current


def _capabilities(target: Target, change: Callable[[dict[str, str]], None]) -> None:
    properties = dict(target.node.get("properties") or {})
    capabilities = parse_capabilities(properties.get("capabilities"))
    change(capabilities)
    properties["capabilities"] = format_capabilities(capabilities)
    target.node["properties"] = properties
    target.changed.add("properties")


def _trait(raw: Any) -> str:
    if not isinstance(raw, str) or not re.fullmatch(r"CUSTOM_[A-Z0-9_]+|[A-Z][A-Z0-9_]*",
                                                     raw) or len(raw) > 255:
        raise RuleFailed(f"add-trait: {raw!r} is not a trait name (CUSTOM_... or a "
                         f"standard trait).")
    return raw


def _act(name: str, args: Mapping[str, Any], target: Target, rule: Rule) -> None:
    if name == "fail":
        raise RuleFailed(str(args["msg"]))
    if name == "log":
        level = str(args.get("level") or "info").lower()
        if level not in ("debug", "info", "warning", "error", "critical"):
            raise RuleFailed(f"log: invalid level {level!r}")
        message = "(sensitive rule)" if rule.sensitive else args["msg"]
        LOG.log(logging.getLevelNamesMapping()[level.upper()], "Inspection rule %s: %s",
                rule.uuid or "built-in", message)
    elif name == "set-attribute":
        _set_attribute(target, args["path"], args["value"])
    elif name == "extend-attribute":
        _extend_attribute(target, args["path"], args["value"], bool(args.get("unique")))
    elif name == "del-attribute":
        _del_attribute(target, args["path"])
    elif name == "set-capability":
        _capabilities(target, lambda caps: caps.__setitem__(str(args["name"]),
                                                            str(args["value"])))
    elif name == "unset-capability":
        def unset(caps: dict[str, str]) -> None:
            caps.pop(str(args["name"]), None)

        _capabilities(target, unset)
    elif name == "add-trait":
        trait = _trait(args["name"])
        if trait not in target.traits:
            target.traits.append(trait)
            target.changed.add("traits")
    elif name == "remove-trait":
        if args["name"] in target.traits:
            target.traits.remove(args["name"])
            target.changed.add("traits")
    else:
        _plugin_action(name, args, target)


def _plugin_action(name: str, args: Mapping[str, Any], target: Target) -> None:
    parts = _plugin_path(args["path"])
    container = _plugin_container(target, parts)
    if name == "set-plugin-data":
        container[parts[-1]] = args["value"]
    elif name == "extend-plugin-data":
        current = container.get(parts[-1]) or []
        if not isinstance(current, list):
            raise RuleFailed(f"extend-plugin-data {args['path']}: not a list.")
        if not args.get("unique") or args["value"] not in current:
            container[parts[-1]] = [*current, args["value"]]
    else:  # unset-plugin-data
        container.pop(parts[-1], None)


def run_action(action: Mapping[str, Any], target: Target, rule: Rule) -> None:
    name = action["op"]
    signature = ACTIONS[name]
    items = _loop_items(action)
    try:
        for item in items if items is not None else [None]:
            _act(name, _prepared(action, signature, target, item, items is not None),
                 target, rule)
    except InvalidRule as exc:
        raise RuleFailed(str(exc)) from None


def apply(rules: Sequence[Rule], target: Target) -> list[str]:
    """Run every rule whose conditions hold, in order; the rules that ran (their uuid,
    or "built-in"). Raises RuleFailed (the inspection fails)."""
    ran = []
    for rule in rules:
        if all(condition_holds(condition, target) for condition in rule.conditions):
            for action in rule.actions:
                run_action(action, target, rule)
            ran.append(rule.uuid or "built-in")
    return ran


def ordered(built_in: Sequence[Rule], operator: Sequence[Rule]) -> list[Rule]:
    """The order rules run in: by priority, highest first; built-in rules before the
    operator's at the same priority."""
    return sorted([*built_in, *operator], key=lambda rule: (-rule.priority,
                                                            not rule.built_in))
