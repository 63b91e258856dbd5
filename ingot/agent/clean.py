"""The ``clean`` commands: get_clean_steps and execute_clean_step (erase_devices_metadata)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from ingot.agent import writer
from ingot.agent.commands import CommandContext, CommandError, CommandRunner, VersionMismatch

LOG = logging.getLogger(__name__)

HARDWARE_MANAGER = "ingot_hardware_manager"
HARDWARE_MANAGER_VERSION = "1.0"
# As IPA's GenericHardwareManager lists it (priority 99: part of automated cleaning).
ERASE_DEVICES_METADATA = {"step": "erase_devices_metadata", "priority": 99,
                          "interface": "deploy", "reboot_requested": False,
                          "abortable": True}


class Clean:
    def __init__(self, target: str):
        self.target = target
        self._steps: dict[str, Callable[[], Any]] = {
            "erase_devices_metadata": self.erase_devices_metadata}

    def register(self, runner: CommandRunner) -> None:
        runner.register("clean.get_clean_steps", self.get_clean_steps, asynchronous=False)
        runner.register("clean.execute_clean_step", self.execute_clean_step,
                        asynchronous=True)

    def versions(self) -> dict[str, str]:
        return {HARDWARE_MANAGER: HARDWARE_MANAGER_VERSION}

    def get_clean_steps(self, context: CommandContext, node: Any = None,
                        ports: Any = None) -> dict[str, Any]:
        return {"clean_steps": {HARDWARE_MANAGER: [dict(ERASE_DEVICES_METADATA)]},
                "hardware_manager_version": self.versions()}

    def execute_clean_step(self, context: CommandContext, step: Mapping[str, Any],
                           node: Any = None, ports: Any = None,
                           clean_version: Mapping[str, str] | None = None,
                           **kwargs: Any) -> dict[str, Any]:
        if clean_version and dict(clean_version) != self.versions():
            raise VersionMismatch(f"agent has {self.versions()}, cleaning started with "
                                  f"{dict(clean_version)}")
        if not isinstance(step, Mapping) or "step" not in step:
            raise CommandError(f'Malformed clean_step, no "step" key: {step!r}')
        run = self._steps.get(step["step"])
        if run is None:
            raise CommandError(f"Clean step {step['step']!r} is not supported by this "
                               f"agent", type_name="CleaningError",
                               message="Clean step failed")
        context.report({"stage": f"clean step {step['step']}"})
        result = run()
        return {"clean_result": result, "clean_step": dict(step)}

    def erase_devices_metadata(self) -> None:
        erased = writer.erase_metadata(self.target)
        LOG.info("Erased metadata of %s: %s", self.target,
                 ", ".join(f"{length} bytes at {offset}" for offset, length in erased.zeroed))
