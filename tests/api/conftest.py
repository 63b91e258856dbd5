"""Fixtures shared by the API tests; each module brings its own api client (at the API
version it tests) and may bring its own node."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests import factories
from tests.assertions import created_body, snapshot
from tests.servers.ingot import IngotServer


@pytest.fixture
def node(api: httpx.Client) -> dict[str, Any]:
    """A fake-hardware node, as the module's api answered its creation."""
    return created_body(api.post("/v1/nodes", json={"driver": "fake-hardware",
                                                    "name": factories.name("node")}))


@pytest.fixture
def unchanged(ingot: IngotServer, node: dict[str, Any]) -> Iterator[None]:
    """The test changes no row of the API's resource tables (node made before)."""
    before = snapshot(ingot)
    yield
    assert snapshot(ingot) == before
