"""The OpenAPI document describes exactly the routes the app serves, and schemathesis,
driven by it against a real `ingot serve` on SQLite and PostgreSQL, finds no 5xx."""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from starlette.routing import Route

from ingot.api import app, openapi
from tests.conftest import BACKENDS, running_ingot
from tests.servers.ingot import IngotServer

SCHEMATHESIS = shutil.which("schemathesis") or os.path.join(os.path.dirname(sys.executable),
                                                            "schemathesis")
# Cases per operation, and a cap in seconds per database (schemathesis stops itself then);
# a fixed seed makes a failure reproducible, INGOT_FUZZ_SEED explores others.
EXAMPLES = int(os.environ.get("INGOT_FUZZ_EXAMPLES", "20"))
FUZZ_SECONDS = int(os.environ.get("INGOT_FUZZ_SECONDS", "100"))
SEED = int(os.environ.get("INGOT_FUZZ_SEED", "20261204"))
_METHODS = {"get", "post", "put", "patch", "delete"}


def _served() -> set[tuple[str, str]]:
    served = set()
    for route in app._routes():
        assert isinstance(route, Route)
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        served |= {(path, method.lower()) for method in route.methods or ()
                   if method.lower() in _METHODS}
    return served


def test_the_document_lists_exactly_the_served_routes() -> None:
    described = {(path, method) for path, item in openapi.document()["paths"].items()
                 for method in item if method in _METHODS}
    assert described == _served()


def test_the_document_is_served(ingot: IngotServer) -> None:
    with ingot.client() as client:
        response = client.get("/v1/openapi.json")
    assert response.status_code == 200
    body = response.json()
    assert body["openapi"].startswith("3.")
    assert body == openapi.document()


@pytest.fixture(scope="module", params=BACKENDS)
def fuzzed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[IngotServer]:
    workdir = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    # fake-hardware only: fuzzed nodes must not start agent processes on this machine.
    with running_ingot(request.param, workdir, options={
            "DEFAULT": {"enabled_hardware_types": "fake-hardware"}}) as server:
        yield server


def _schemathesis(server: IngotServer, workdir: pathlib.Path, seconds: int,
                  *selection: str) -> str:
    """One bounded schemathesis run (zero 5xx or the failure); its output."""
    argv = [SCHEMATHESIS, "run", f"{server.url}/v1/openapi.json",
            "--checks", "not_a_server_error", "--max-examples", str(EXAMPLES),
            "--max-time", str(seconds), "--phases", "examples,coverage,fuzzing",
            # One worker: schemathesis' generators are not thread-safe (internal errors).
            "--workers", "1", "--request-timeout", "20", "--no-color",
            "--generation-database", "none", "--suppress-health-check", "all",
            "--seed", str(SEED), *selection]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, cwd=workdir,
                              timeout=seconds + 120, check=False)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"schemathesis did not finish: {exc}")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-8000:]
    return output


@pytest.mark.slow
def test_schemathesis_finds_no_server_error(fuzzed: IngotServer,
                                            tmp_path: pathlib.Path) -> None:
    with fuzzed.client() as client:  # the example node of the document's {node} parameter
        node = client.post("/v1/nodes", json={"driver": "fake-hardware", "name": "node-1"})
        assert node.status_code == 201
    # Deletes last, so the example node lives while everything else is tried on it.
    _schemathesis(fuzzed, tmp_path, FUZZ_SECONDS, "--exclude-method", "DELETE")
    _schemathesis(fuzzed, tmp_path, 20, "--include-method", "DELETE")
    assert "Unexpected error" not in fuzzed.log(), fuzzed.log()[-6000:]
    assert httpx.get(f"{fuzzed.url}/").status_code == 200
