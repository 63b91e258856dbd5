"""Hardware types: named sets of interface implementations, and their registry."""

from __future__ import annotations

import dataclasses
import operator
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
from ingot.drivers.settings import InterfaceSettings

# No [DEFAULT] enabled_*_interfaces: every implementation (conductors run what nodes
# name, which the API checked when they were set).
_ALL = InterfaceSettings()


@dataclasses.dataclass(frozen=True, slots=True)
class HardwareType:
    name: str
    # kind -> supported implementation classes, the default first
    supported: dict[str, tuple[type[Interface], ...]]

    def enabled(self, kind: str, settings: InterfaceSettings = _ALL) -> tuple[str, ...]:
        """The implementations of kind nodes of this type may use, the preferred first."""
        allowed = settings.allowed(kind)
        return tuple(c.name for c in self.supported[kind]
                     if allowed is None or c.name in allowed)

    def default(self, kind: str, settings: InterfaceSettings = _ALL) -> str | None:
        """What a new node gets, as Ironic picks it: [DEFAULT] default_<kind>_interface
        if this type may use it, else the first enabled implementation."""
        enabled = self.enabled(kind, settings)
        configured = settings.default(kind)
        if configured:
            return configured if configured in enabled else None
        return enabled[0] if enabled else None

    def implementation(self, kind: str, name: str | None,
                       settings: InterfaceSettings = _ALL) -> type[Interface]:
        if not name:
            name = self.default(kind, settings)
            if name is None:
                raise InvalidParameter(f'No default value found for {kind} interface of '
                                       f'hardware type "{self.name}": enable one of '
                                       f'{", ".join(c.name for c in self.supported[kind])}.')
        enabled = self.enabled(kind, settings)
        for candidate in self.supported[kind]:
            if candidate.name == name and name in enabled:
                return candidate
        raise InvalidParameter(
            f'Interface "{name}" is not supported for {kind}_interface by hardware type '
            f'"{self.name}"; enabled: {", ".join(enabled) or "none"}.')

    def properties(self) -> dict[str, str]:
        merged: dict[str, str] = {}
        for kind in INTERFACE_KINDS:
            for implementation in self.supported[kind]:
                merged.update(implementation.properties)
        return dict(sorted(merged.items()))


# Ironic's do-nothing implementation of each kind (and flat networking), which every
# hardware type has.
_NO_OP: dict[str, tuple[type[Interface], ...]] = {
    "bios": (fake.passive("bios", "no-bios"),),
    "console": (fake.NoConsole,),
    "firmware": (fake.passive("firmware", "no-firmware"),),
    "inspect": (fake.NoInspect,),
    # Every generic type also has flat, which records VIFs on the node's ports and
    # portgroups (api/vifs.py), as Ironic's.
    "network": (fake.passive("network", "noop"), fake.passive("network", "flat")),
    "raid": (fake.NoRaid,),
    "rescue": (fake.NoRescue,),
    "storage": (fake.passive("storage", "noop"),),
    "vendor": (fake.NoVendor,),
}


def with_no_op(supported: dict[str, tuple[type[Interface], ...]]
               ) -> dict[str, tuple[type[Interface], ...]]:
    """Add Ironic's no-op implementation of each kind after the type's own."""
    full = dict(supported)
    for kind, no_op in _NO_OP.items():
        full[kind] = tuple(dict.fromkeys(full.get(kind, ()) + no_op))
    return full


# Ironic's fake-hardware: a fake implementation of every kind, the preferred one.
FAKE_HARDWARE = HardwareType("fake-hardware", with_no_op({
    "bios": (fake.FakeBios,),
    "boot": (fake.FakeBoot,),
    "console": (fake.FakeConsole,),
    "deploy": (fake.FakeDeploy,),
    "firmware": (fake.passive("firmware", "fake"),),
    "inspect": (fake.FakeInspect,),
    "management": (fake.FakeManagement,),
    "power": (fake.FakePower,),
    "raid": (fake.FakeRaid,),
    "rescue": (fake.FakeRescue,),
    "storage": (fake.passive("storage", "fake"),),
    "vendor": (fake.FakeVendor,),
}))

_KNOWN: dict[str, HardwareType] = {FAKE_HARDWARE.name: FAKE_HARDWARE}


def register(hardware_type: HardwareType) -> None:
    _KNOWN[hardware_type.name] = hardware_type
    _DRIVER_SETS.clear()


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
    # The set is a function of the hardware type and the interface names alone:
    # keyed by them, a node whose interfaces change gets its new set.
    key = (node.driver, *_interface_names(node))
    found = _DRIVER_SETS.get(key)
    if found is None:
        found = _driver_set(node)
        if len(_DRIVER_SETS) >= 256:
            _DRIVER_SETS.clear()
        _DRIVER_SETS[key] = found
    return found


# The driver sets built, shared: implementations are stateless and a DriverSet is
# frozen, and building one (a class lookup and an instance per kind) was a conductor
# action's largest cost after its writes. Bounded: a key is a set of implementation
# names. Cleared when a hardware type is registered (what a name means may change).
_DRIVER_SETS: dict[tuple[str | None, ...], DriverSet] = {}
_interface_names = operator.attrgetter(*(f"{kind}_interface" for kind in INTERFACE_KINDS))


def _driver_set(node: Node) -> DriverSet:
    hardware_type = _KNOWN.get(node.driver)
    if hardware_type is None:
        raise InvalidParameter(f'Unknown hardware type "{node.driver}".')
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
