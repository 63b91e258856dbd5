"""Clean steps as the agent offers them (``clean.get_clean_steps``), turned into the
list a cleaning runs, as Ironic does: automated cleaning runs every step of priority
above 0, highest first, with [deploy] erase_devices(_metadata)_priority overriding the
agent's priorities; manual cleaning runs the steps the user asked for, in order, each
of which the agent must offer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ingot.drivers.interfaces import DriverError

# What a step needs, as Ironic checks it in the agent's answer.
_STEP_KEYS = ("interface", "step", "priority")


class AgentSteps:
    """The agent's answer to get_clean_steps: steps by interface, and the hardware
    managers' versions to send back with every execute_clean_step."""

    def __init__(self, result: Any):
        if not isinstance(result, Mapping):
            raise DriverError(f"The agent's get_clean_steps returned an invalid result: "
                              f"{result!r}")
        missing = {"clean_steps", "hardware_manager_version"} - set(result)
        if missing:
            raise DriverError(f"The agent's get_clean_steps result lacks "
                              f"{', '.join(sorted(missing))}.")
        by_interface: dict[str, list[dict[str, Any]]] = {}
        managers = result["clean_steps"]
        if not isinstance(managers, Mapping):
            raise DriverError("The agent's clean_steps are not grouped by hardware manager.")
        for steps in managers.values():
            for step in steps or ():
                if not isinstance(step, Mapping) or any(k not in step for k in _STEP_KEYS):
                    raise DriverError(f"The agent offered an invalid clean step (it needs "
                                      f"{', '.join(_STEP_KEYS)}): {step!r}")
                by_interface.setdefault(str(step["interface"]), []).append(
                    {**step, "requires_ramdisk": True})
        self.steps = by_interface
        self.version = result["hardware_manager_version"]

    def as_internal(self) -> dict[str, Any]:
        return {"agent_cached_clean_steps": self.steps,
                "hardware_manager_version": self.version}


def _find(cached: Mapping[str, list[dict[str, Any]]], interface: str, name: str
          ) -> dict[str, Any] | None:
    return next((dict(step) for step in cached.get(interface, ()) if step["step"] == name),
                None)


def automated(cached: Mapping[str, list[dict[str, Any]]],
              overrides: Mapping[str, int | None]) -> list[dict[str, Any]]:
    """The steps of automated cleaning: priority > 0, highest first."""
    chosen = []
    for steps in cached.values():
        for step in steps:
            step = dict(step)
            override = overrides.get(step["step"]) if step["interface"] == "deploy" else None
            if override is not None:
                step["priority"] = override
            if int(step.get("priority") or 0) > 0:
                chosen.append(step)
    # Equal priorities keep the agent's order (sorted() is stable).
    return sorted(chosen, key=lambda step: -int(step["priority"]))


def manual(cached: Mapping[str, list[dict[str, Any]]],
           requested: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The user's steps, each matched to the step the agent offers, with its args."""
    chosen = []
    for wanted in requested:
        step = _find(cached, str(wanted.get("interface")), str(wanted.get("step")))
        if step is None:
            offered = sorted(f"{s['interface']}.{s['step']}"
                             for steps in cached.values() for s in steps)
            raise DriverError(f"Clean step {wanted.get('interface')}.{wanted.get('step')} "
                              f"is not offered by the agent; it offers "
                              f"{', '.join(offered) or 'none'}.")
        step["args"] = dict(wanted.get("args") or {})
        step["priority"] = 0
        chosen.append(step)
    return chosen
