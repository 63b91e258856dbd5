"""Unique values for test objects, so tests sharing a server never collide."""

from __future__ import annotations

import secrets
import uuid

from ingot.db.models import utcnow


def mac(prefix: str = "52:54:00") -> str:
    return prefix + "".join(f":{byte:02x}" for byte in secrets.token_bytes(3))


def name(kind: str) -> str:
    return f"{kind}-{secrets.token_hex(5)}"


def node_row(**overrides: object) -> dict[str, object]:
    """A complete nodes row for arranging database state directly."""
    row: dict[str, object] = {
        "uuid": str(uuid.uuid4()), "name": None, "driver": "fake-hardware",
        "driver_info": {}, "driver_internal_info": {}, "instance_info": {},
        "properties": {}, "extra": {}, "network_data": {}, "traits": [],
        "provision_state": "enroll", "maintenance": False, "console_enabled": False,
        "clean_step": {}, "deploy_step": {}, "raid_config": {}, "target_raid_config": {},
        "conductor_group": "", "protected": False, "retired": False, "revision": 0,
        "created_at": utcnow(),
        **{f"{kind}_interface": "fake" for kind in (
            "bios", "boot", "console", "deploy", "inspect", "management", "power", "raid",
            "rescue", "vendor")},
        "network_interface": "noop", "storage_interface": "noop",
    }
    row.update(overrides)
    return row
