"""The deploy steps a deployment runs, as data, in Ironic's order.

The node's interfaces offer steps with default priorities (drivers/interfaces.py
``deploy_steps``); the deploy templates named by the instance's traits
(instance_info.traits), then the deploy request's own deploy_steps (API 1.69), add
steps, give them args and change priorities (0 leaves a step out). Steps run highest
priority first, ties broken by interface as Ironic does. The API computes the plan
before it accepts a deploy, so an unknown step is a 400 with nothing changed; the
conductor computes it again when it starts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from ingot.db import deploy_templates
from ingot.db.models import Node
from ingot.drivers.interfaces import DriverSet, InvalidParameter

# Ironic's DEPLOYING_INTERFACE_PRIORITY: which interface goes first on equal priority.
INTERFACE_PRIORITY = {"vendor": 7, "power": 6, "management": 5, "firmware": 4,
                      "deploy": 3, "bios": 2, "raid": 1}


def requested_steps(conn: sa.Connection | None, node: Node,
                    request_steps: Iterable[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """The templates' steps, then the request's (a later one replaces an earlier).
    conn reads the templates; None only for an instance without traits (the common
    deploy, which then needs no database read)."""
    traits = node.instance_info.get("traits") or []
    if not isinstance(traits, list) or not all(isinstance(t, str) for t in traits):
        raise InvalidParameter("instance_info traits must be a list of trait names.")
    foreign = sorted(set(traits) - set(node.traits))
    if foreign:
        raise InvalidParameter(f"Cannot specify instance traits that are not also node "
                               f"traits: {', '.join(foreign)}.")
    templates = []
    if traits:
        assert conn is not None, "an instance with traits needs its templates read"
        templates = deploy_templates.with_names(conn, traits)
    steps = [dict(step) for template in templates for step in template.steps]
    return steps + [dict(step) for step in request_steps or ()]


def plan(driver: DriverSet, requested: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The steps to run, in order: {interface, step, priority, args} each."""
    interfaces = driver.all()
    offered = {(kind, name): priority for kind, interface in interfaces.items()
               if kind in INTERFACE_PRIORITY
               for name, priority in interface.deploy_steps.items()}
    chosen = {key: {"interface": key[0], "step": key[1], "priority": priority, "args": {}}
              for key, priority in offered.items() if priority > 0}
    for step in requested:
        key = (str(step.get("interface")), str(step.get("step")))
        if key not in offered:
            names = ", ".join(f"{kind}.{name}" for kind, name in sorted(offered))
            raise InvalidParameter(
                f"Deploy step {key[0]}.{key[1]} is not offered by the node's "
                f"{key[0]} interface ({getattr(interfaces.get(key[0]), 'name', 'none')}); "
                f"its interfaces offer {names or 'none'}.")
        priority = _priority(key, step.get("priority"))
        if priority == 0:
            chosen.pop(key, None)
        else:
            chosen[key] = {"interface": key[0], "step": key[1], "priority": priority,
                           "args": dict(step.get("args") or {})}
    return sorted(chosen.values(), key=lambda s: (-s["priority"],
                                                  -INTERFACE_PRIORITY[s["interface"]]))


def _priority(key: tuple[str, str], value: Any) -> int:
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidParameter(f"Deploy step {key[0]}.{key[1]} needs a priority: an "
                               f"integer of 0 or more.")
    return value
