"""Which ports an inventory gives a node, as Ironic's [inspector] add_ports, keep_ports
and update_pxe_enabled choose them.

add_ports: ``all`` interfaces, the ``active`` ones (with an IP address), the ``pxe``
one the machine booted from (``active`` when the agent does not say), or ``disabled``.
keep_ports: ``all`` existing ports, those ``present`` in the inventory, or only those
``added`` by this inspection's choice. update_pxe_enabled: a port is PXE-enabled if it
is the boot interface (when the agent names it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from ingot.db.models import Port
from ingot.inspection.inventory import normalize_mac, pxe_mac, valid_macs
from ingot.inspection.settings import InspectionSettings


@dataclasses.dataclass(frozen=True, slots=True)
class PortPlan:
    create: tuple[tuple[str, bool], ...]  # (address, pxe_enabled)
    update: tuple[tuple[int, bool], ...]  # (port id, pxe_enabled)
    delete: tuple[int, ...]
    # Addresses that are already another node's ports: left alone.
    elsewhere: tuple[str, ...]


def _active(inventory: Mapping[str, Any]) -> list[str]:
    macs = []
    for interface in inventory["interfaces"]:
        if interface.get("ipv4_address") or interface.get("ipv6_address"):
            macs.append(normalize_mac(interface["mac_address"]))
    return macs


def chosen_macs(inventory: Mapping[str, Any], plugin_data: Mapping[str, Any],
                add_ports: str) -> list[str]:
    """The MACs add_ports wants ports for, in inventory order."""
    valid = valid_macs(dict(inventory))
    if add_ports == "disabled":
        return []
    if add_ports == "all":
        return valid
    pxe = pxe_mac(dict(inventory), dict(plugin_data))
    if add_ports == "pxe" and pxe is not None:
        return [pxe] if pxe in valid else []
    active = set(_active(inventory))
    return [mac for mac in valid if mac in active]


def plan(inventory: Mapping[str, Any], plugin_data: Mapping[str, Any],
         existing: Sequence[Port], taken: Collection[str],
         settings: InspectionSettings) -> PortPlan:
    """What to do with the node's ports. taken: addresses of other nodes' ports."""
    wanted = chosen_macs(inventory, plugin_data, settings.add_ports)
    present = set(valid_macs(dict(inventory)))
    pxe = pxe_mac(dict(inventory), dict(plugin_data))
    own = {port.address: port for port in existing}

    def pxe_enabled(mac: str, current: bool) -> bool:
        if settings.update_pxe_enabled and pxe is not None:
            return mac == pxe
        return current

    create = tuple((mac, pxe_enabled(mac, True)) for mac in wanted
                   if mac not in own and mac not in taken)
    elsewhere = tuple(mac for mac in wanted if mac not in own and mac in taken)
    if settings.keep_ports == "present":
        delete = tuple(port.id for port in existing if port.address not in present)
    elif settings.keep_ports == "added":
        delete = tuple(port.id for port in existing if port.address not in wanted)
    else:
        delete = ()
    update = tuple((port.id, pxe_enabled(port.address, port.pxe_enabled))
                   for port in existing
                   if port.id not in delete
                   and pxe_enabled(port.address, port.pxe_enabled) != port.pxe_enabled)
    return PortPlan(create, update, delete, elsewhere)
