"""Where each hardware type lives, so a process imports only the ones it enables."""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from ingot.drivers import hardware
from ingot.drivers.interfaces import InvalidParameter

# hardware type -> module that registers it on import
_MODULES: dict[str, str] = {
    "fake-hardware": "ingot.drivers.hardware",
    "ipmi": "ingot.drivers.ipmi",
    "local-vm": "ingot.drivers.local_vm",
    "qemu-vm": "ingot.drivers.qemu_vm",
    "redfish": "ingot.drivers.redfish",
}


def load(names: Iterable[str]) -> None:
    for name in names:
        module = _MODULES.get(name)
        if module is None:
            raise InvalidParameter(
                f"enabled_hardware_types names unknown hardware type \"{name}\"; known: "
                f"{', '.join(sorted(_MODULES))}.")
        importlib.import_module(module)
    hardware.enabled(names)
