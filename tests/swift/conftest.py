"""Fixtures of the Swift tests: one real Swift per session, databases, configurations."""

from __future__ import annotations

import pathlib
import secrets
import uuid
from collections.abc import Callable

import pytest
from oslo_config import cfg

from tests.servers.swift import SwiftServer
from tests.swift.confs import Sections, make_conf, merged

ConfFactory = Callable[..., cfg.ConfigOpts]


@pytest.fixture(scope="session")
def glance_image(swift: SwiftServer) -> tuple[str, bytes]:
    """(image id, content) of an image stored as Glance's Swift store would."""
    image_id = str(uuid.uuid4())
    content = secrets.token_bytes(256 * 1024)
    connection = swift.connection()
    try:
        connection.put_container("glance")
        connection.put_object("glance", image_id, content)
    finally:
        connection.close()
    return image_id, content


@pytest.fixture
def swift_conf(swift: SwiftServer, tmp_path: pathlib.Path) -> ConfFactory:
    """Builds ingot configurations reaching the test Swift; arguments add sections."""
    base: Sections = {"swift": swift.swift_options()}

    def build(*layers: Sections) -> cfg.ConfigOpts:
        return make_conf(tmp_path, merged(base, *layers))

    return build
