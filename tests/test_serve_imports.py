"""What a running `ingot serve` on SQLite with default options has imported.

Its memory is mostly the modules it loads (bench/serve_rss.py): those for PostgreSQL,
schema migrations, Glance/Swift/Keystone clients, config drives, BMC protocols, YAML
rules, templates and httpx's command-line client are loaded when they are used, never at
start. The service runs in a subprocess of its own (the test process has loaded
everything); once it answers, it lists its sys.modules and stops itself.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

from ingot.db import migrate
from ingot.db.engine import Database
from tests.servers.ingot import write_config
from tests.servers.process import free_port

# Top-level packages a default SQLite service must not load, and who would use them.
NOT_AT_START = {
    "psycopg": "PostgreSQL",
    "psycopg_binary": "PostgreSQL",
    "alembic": "a schema that is not at the newest revision",
    "mako": "Alembic",
    "keystoneauth1": "Keystone, Glance or Swift",
    "requests": "keystoneauth1, swiftclient, sushy",
    "swiftclient": "Swift",
    "sushy": "Redfish hardware types",
    "pyghmi": "IPMI hardware types",
    "pycdlib": "config drives",
    "yaml": "[inspection_rules] built_in_rules",
    "jinja2": "a dashboard page or an iPXE script",
    "rich": "httpx's command-line client",
    "pygments": "httpx's command-line client",
}

# Runs `ingot serve` in-process; a thread waits for its API, asks for a node list (so
# what the first requests import counts too), writes sys.modules and stops the service.
_SERVE = """
import json, os, signal, sys, threading, time, urllib.request

config, url, out = sys.argv[1:4]

def probe():
    status = None
    for _ in range(300):  # 30 s at most
        try:
            request = urllib.request.Request(
                url + "/v1/nodes", headers={"X-OpenStack-Ironic-API-Version": "1.80"})
            with urllib.request.urlopen(request, timeout=5) as response:
                status = response.status
            break
        except OSError:
            time.sleep(0.1)
    with open(out, "w") as file:
        json.dump({"status": status, "modules": sorted(sys.modules)}, file)
    os.kill(os.getpid(), signal.SIGTERM)

threading.Thread(target=probe, daemon=True).start()
from ingot.cli.main import main
sys.exit(main(["serve", "--config-file", config]))
"""


def _serve_modules(workdir: pathlib.Path, db_url: str) -> tuple[int | None, set[str]]:
    port = free_port()
    config = write_config(workdir / "ingot.conf", {
        "DEFAULT": {"state_path": workdir / "state", "host": "imports"},
        "api": {"port": port},
        "deploy": {"http_port": free_port()},
        "database": {"connection": db_url},
    })
    out = workdir / "modules.json"
    result = subprocess.run(
        [sys.executable, "-c", _SERVE, str(config), f"http://127.0.0.1:{port}", str(out)],
        capture_output=True, text=True, timeout=90, check=False)
    assert out.exists(), f"ingot serve wrote nothing (rc {result.returncode}):\n" \
                         f"{result.stderr[-3000:]}"
    found = json.loads(out.read_text())
    return found["status"], {name.split(".")[0] for name in found["modules"]}


def test_serve_on_sqlite_at_head_loads_no_heavy_modules(tmp_path: pathlib.Path) -> None:
    db_url = f"sqlite:///{tmp_path}/ingot.sqlite"
    db = Database(db_url)
    migrate.upgrade(db)
    db.dispose()

    status, loaded = _serve_modules(tmp_path, db_url)

    assert status == 200
    assert {"ingot", "sqlalchemy", "uvicorn", "starlette"} <= loaded  # it did serve
    assert "httptools" in loaded  # the C HTTP parser, not h11's pure Python one
    assert {name: why for name, why in NOT_AT_START.items() if name in loaded} == {}


@pytest.mark.parametrize("stamped", ["none", "older"], ids=["fresh", "older"])
def test_serve_migrates_a_database_not_at_head(tmp_path: pathlib.Path, stamped: str
                                               ) -> None:
    db_url = f"sqlite:///{tmp_path}/ingot.sqlite"
    db = Database(db_url)
    if stamped == "older":
        migrate.upgrade(db, "0001")

    status, loaded = _serve_modules(tmp_path, db_url)

    assert status == 200
    assert "alembic" in loaded
    assert migrate.current_revision(db) == migrate.head_revision()
    db.dispose()
