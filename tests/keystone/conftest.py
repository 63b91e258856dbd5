"""Fixtures of the Keystone tests: one real Keystone per session, its accounts, and an
`ingot serve` that validates tokens against it as Ironic's [keystone_authtoken] would."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest

from tests.servers.ingot import IngotServer
from tests.servers.keystone import Account, KeystoneServer, KeystoneUnavailable
from tests.servers.process import unavailable


@pytest.fixture(scope="session")
def keystone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeystoneServer]:
    """A real Keystone (SQLite, fernet), started once per session."""
    server = KeystoneServer(tmp_path_factory.mktemp("keystone"))
    try:
        server.start()
    except KeystoneUnavailable as exc:
        unavailable(f"OpenStack Keystone cannot run here: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def service_account(keystone: KeystoneServer) -> Account:
    """ingot's own user, set up as Ironic's install guide sets up the ironic user: the
    service role in the service project (Keystone's policy lets it validate tokens)."""
    return keystone.create_user("ingot", "service", ["service"])


@pytest.fixture(scope="session")
def operator(keystone: KeystoneServer) -> Account:
    """A bare metal operator: admin (one of ingot's default keystone_allowed_roles)."""
    return keystone.create_user("operator", "baremetal", ["admin"])


@pytest.fixture(scope="session")
def observer(keystone: KeystoneServer) -> Account:
    """A project member: a valid token, but no role ingot allows."""
    return keystone.create_user("observer", "baremetal", ["member"])


@pytest.fixture(scope="session")
def ingot_keystone(tmp_path_factory: pytest.TempPathFactory, keystone: KeystoneServer,
                   service_account: Account) -> Iterator[IngotServer]:
    """`ingot serve` with auth_strategy = keystone, listed in Keystone's catalog as the
    baremetal service (so clients find it as they find Ironic). Session-scoped like its
    catalog entry: a second ingot would be a second, stale baremetal service."""
    workdir: pathlib.Path = tmp_path_factory.mktemp("ingot-keystone")
    server = IngotServer(workdir, options={
        # debug: the no-secrets-in-the-log check must also cover debug messages.
        "DEFAULT": {"auth_strategy": "keystone", "debug": "true"},
        "keystone_authtoken": keystone.authtoken_options(service_account),
    }).start()
    keystone.register_service("baremetal", "ironic", server.url)
    try:
        yield server
    finally:
        server.stop()
