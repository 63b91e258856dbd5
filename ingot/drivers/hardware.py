"""Hardware types: named sets of interface implementations, and their registry."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from ingot.db.models import Node
from ingot.drivers import fake
from ingot.drivers.interfaces import (
    INTERFACE_KINDS,
    BootInterface,
    DeployInterface,
    DriverSet,
    InspectInterface,
    Interface,
    InvalidParameter,
    ManagementInterface,
    PowerInterface,
    RescueInterface,
)


@dataclasses.dataclass(frozen=True, slots=True)
class HardwareType:
    name: str
    # kind -> supported implementation classes, the default first
    supported: dict[str, tuple[type[Interface], ...]]

    def default(self, kind: str) -> str:
        return self.supported[kind][0].name

    def implementation(self, kind: str, name: str | None) -> type[Interface]:
        name = name or self.default(kind)
        for candidate in self.supported[kind]:
            if candidate.name == name:
                return candidate
        names = ", ".join(c.name for c in self.supported[kind])
        raise InvalidParameter(
            f'Interface "{name}" is not supported for {kind}_interface by hardware type '
            f'"{self.name}"; supported: {names}.')

    def properties(self) -> dict[str, str]:
        merged: dict[str, str] = {}
        for kind in INTERFACE_KINDS:
            for implementation in self.supported[kind]:
                merged.update(implementation.properties)
        return dict(sorted(merged.items()))


def with_passive(supported: dict[str, tuple[type[Interface], ...]],
                  implementation: str) -> dict[str, tuple[type[Interface], ...]]:
    """Fill the kinds ingot only carries for the API with a do-nothing implementation."""
    full = dict(supported)
    for kind in INTERFACE_KINDS:
        full.setdefault(kind, (fake.passive(kind, implementation),))
    return full


FAKE_HARDWARE = HardwareType("fake-hardware", with_passive({
    "power": (fake.FakePower,),
    "management": (fake.FakeManagement,),
    "boot": (fake.FakeBoot,),
    "deploy": (fake.FakeDeploy,),
    "inspect": (fake.FakeInspect,),
    "rescue": (fake.FakeRescue,),
    "network": (fake.passive("network", "noop"),),
    "storage": (fake.passive("storage", "noop"),),
}, "fake"))

_KNOWN: dict[str, HardwareType] = {FAKE_HARDWARE.name: FAKE_HARDWARE}


def register(hardware_type: HardwareType) -> None:
    _KNOWN[hardware_type.name] = hardware_type


def known() -> dict[str, HardwareType]:
    return dict(_KNOWN)


def enabled(names: Iterable[str]) -> dict[str, HardwareType]:
    """The hardware types named in [DEFAULT]enabled_hardware_types that exist."""
    result = {}
    for name in names:
        if name not in _KNOWN:
            raise InvalidParameter(f'enabled_hardware_types names unknown hardware type '
                                   f'"{name}"; known: {", ".join(sorted(_KNOWN))}.')
        result[name] = _KNOWN[name]
    return result


def driver_for(node: Node) -> DriverSet:
    hardware_type = _KNOWN.get(node.driver)
    if hardware_type is None:
        raise InvalidParameter(f'Unknown hardware type "{node.driver}".')
    # Implementations are stateless: a fresh instance each time is as good as a shared one.
    chosen = {kind: hardware_type.implementation(kind, node.interface(kind))()
              for kind in INTERFACE_KINDS}
    named = {"power", "management", "boot", "deploy", "inspect", "rescue"}
    power, management, boot = chosen["power"], chosen["management"], chosen["boot"]
    deploy, inspect, rescue = chosen["deploy"], chosen["inspect"], chosen["rescue"]
    assert isinstance(power, PowerInterface) and isinstance(management, ManagementInterface)
    assert isinstance(boot, BootInterface) and isinstance(deploy, DeployInterface)
    assert isinstance(inspect, InspectInterface) and isinstance(rescue, RescueInterface)
    return DriverSet(
        hardware_type=hardware_type.name, power=power, management=management, boot=boot,
        deploy=deploy, inspect=inspect, rescue=rescue,
        others={kind: impl for kind, impl in chosen.items() if kind not in named})


def default_interfaces(driver: str, enabled_names: Iterable[str]) -> dict[str, str | None]:
    """The interface columns of a new node of an enabled hardware type (ValueError if
    it is not enabled): what a node created or re-typed by inspection gets."""
    if driver not in enabled_names or driver not in _KNOWN:
        raise ValueError(f"hardware type {driver!r} is not enabled")
    return {f"{kind}_interface": _KNOWN[driver].default(kind) for kind in INTERFACE_KINDS}
