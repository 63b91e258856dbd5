"""Unique values for test objects, so tests sharing a server never collide."""

from __future__ import annotations

import secrets


def mac(prefix: str = "52:54:00") -> str:
    return prefix + "".join(f":{byte:02x}" for byte in secrets.token_bytes(3))


def name(kind: str) -> str:
    return f"{kind}-{secrets.token_hex(5)}"
