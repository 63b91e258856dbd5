"""The pure parts of inspection: which ports an inventory gives under each [inspector]
choice, and how rules read the inventory and change the node."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from ingot.db.models import Port
from ingot.inspection import rules
from ingot.inspection.ports import plan
from ingot.inspection.properties import from_inventory
from ingot.inspection.settings import InspectionSettings
from tests.inspection.inventories import GIB, inventory

A, B, C = "52:54:00:00:00:0a", "52:54:00:00:00:0b", "52:54:00:00:00:0c"


def _port(port_id: int, address: str, pxe: bool = True) -> Port:
    return Port(port_id, f"uuid-{port_id}", address, 1, {}, {}, {}, pxe, None, False,
                None, None, None, None, True, datetime.datetime(2026, 1, 1), None)


@pytest.mark.parametrize(("add", "keep", "pxe", "created", "deleted"), [
    ("all", "all", None, [(B, True)], []),
    ("active", "all", None, [], []),  # only A has an address, and A is a port already
    ("pxe", "all", B, [(B, True)], []),
    ("pxe", "added", B, [(B, True)], [1, 3]),
    ("disabled", "present", None, [], [3]),
])
def test_port_choices(add: str, keep: str, pxe: str | None,
                      created: list[tuple[str, bool]], deleted: list[int]) -> None:
    data = inventory([A, B], pxe=pxe)
    existing = [_port(1, A), _port(3, C)]
    result = plan(data["inventory"], data, existing, taken=(),
                  settings=InspectionSettings(add_ports=add, keep_ports=keep))
    assert list(result.create) == created
    assert list(result.delete) == deleted
    if pxe == B and 1 not in deleted:
        assert (1, False) in result.update  # A no longer the PXE port


def test_a_mac_of_another_node_is_left_alone() -> None:
    data = inventory([A, B])
    result = plan(data["inventory"], data, [], taken={B},
                  settings=InspectionSettings(add_ports="all"))
    assert result.create == ((A, True),) and result.elsewhere == (B,)


def test_properties_follow_root_device_hints() -> None:
    data = inventory([A])["inventory"]
    smallest, _disk = from_inventory(data, {})
    assert smallest["local_gb"] == 9  # the smaller disk (10 GiB), less 1
    hinted, disk = from_inventory(data, {"root_device": {"size": ">= 15"},
                                         "capabilities": "secure_boot:true"})
    assert hinted["local_gb"] == 19 and disk is not None and disk.name == "/dev/vda"
    assert hinted["capabilities"] == "secure_boot:true,boot_mode:uefi"
    assert hinted["memory_mb"] == 8192 and hinted["cpus"] == 4
    none_big_enough, disk = from_inventory(
        inventory([A], disks=[("/dev/sda", 2 * GIB)])["inventory"], {})
    assert none_big_enough["local_gb"] == 0 and disk is None


def _target(**node: Any) -> rules.Target:
    data = inventory([A, B])
    return rules.Target({"driver": "fake-hardware", "driver_info": {}, "properties": {},
                         "extra": {}, **node}, [], data["inventory"], {})


def test_references_keep_their_type_and_read_only_data() -> None:
    target = _target()
    scope = {"inventory": target.inventory, "node": target.node}
    assert rules.interpolate("{inventory[cpu][count]}", scope) == 4
    assert rules.interpolate("n={inventory[cpu][count]}", scope) == "n=4"
    assert rules.interpolate("{inventory[interfaces][1][mac_address]}", scope) == B
    assert rules.interpolate("{node.driver}", scope) == "fake-hardware"
    # Unknown names and attribute tricks stay as written.
    assert rules.interpolate("{inventory[nope]}", scope) == "{inventory[nope]}"
    assert rules.interpolate("{node.__class__}", scope) == "{node.__class__}"


def test_loops_conditions_and_actions() -> None:
    target = _target()
    rule = rules.check_rule({
        "conditions": [{"op": "matches", "args": {"value": "{item[mac_address]}",
                                                 "regex": "52:54:00:.*"},
                        "loop": list(target.inventory["interfaces"]), "multiple": "all"}],
        "actions": [{"op": "extend-attribute", "args": {"path": "/extra/nics",
                                                        "value": "{item}"},
                     "loop": ["eth0", "eth1"]},
                    {"op": "set-capability", "args": ["cpu_vt", "true"]},
                    {"op": "set-attribute", "args": ["driver_info.ipmi_username", "admin"]},
                    {"op": "add-trait", "args": ["CUSTOM_QEMU"]}]})
    assert rules.apply([rule], target) == ["built-in"]
    assert target.node["extra"]["nics"] == ["eth0", "eth1"]
    assert target.node["properties"]["capabilities"] == "cpu_vt:true"
    assert target.node["driver_info"] == {"ipmi_username": "admin"}
    assert target.traits == ["CUSTOM_QEMU"]
    inverted = rules.check_rule({"conditions": [{"op": "!eq", "args": [1, 1]}],
                                 "actions": [{"op": "fail", "args": ["never"]}]})
    assert rules.apply([inverted], _target()) == []
    failing = rules.check_rule({"actions": [{"op": "fail", "args": ["no {node.driver}"]}]})
    with pytest.raises(rules.RuleFailed, match="no fake-hardware"):
        rules.apply([failing], _target())


def test_priority_orders_rules() -> None:
    low = rules.check_rule({"priority": 1, "actions": [{"op": "log", "args": ["x"]}]})
    high = rules.Rule("u", None, 5, [], [{"op": "log", "args": {"msg": "y"}}])
    built_in = rules.check_rule({"priority": 5, "actions": [{"op": "log", "args": ["z"]}]},
                                built_in=True)
    assert rules.ordered([built_in, low], [high]) == [built_in, high, low]
