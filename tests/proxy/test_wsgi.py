"""The proxy under uWSGI with ironic-proxy's recipe (module, pyargv, threads,
processes), in front of a real ingot site."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator

import httpx
import pytest

from tests import factories
from tests.proxy.servers import proxy_sections
from tests.servers.ingot import IngotServer, write_config
from tests.servers.process import Process, free_port, http_ready, unavailable, wait_until

UWSGI = shutil.which("uwsgi", path=os.path.dirname(sys.executable))

RECIPE = """\
[uwsgi]
module = ingot.proxy.wsgi
http = 127.0.0.1:{port}
pyargv = --config-file {config}
enable-threads = true
processes = 2
master = true
; uWSGI reloads on SIGTERM unless told otherwise; the tests stop servers with it.
die-on-term = true
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngotServer]:
    server = IngotServer(tmp_path_factory.mktemp("wsgi-site"), host="wsgi-site").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def uwsgi_proxy(site: IngotServer, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[str]:
    if UWSGI is None:
        unavailable("uwsgi is not installed in the venv (test extra pyuwsgi)")
    assert UWSGI is not None
    workdir = tmp_path_factory.mktemp("wsgi-proxy")
    config = write_config(workdir / "proxy.conf",
                          proxy_sections({"loc1": site.url}, groups="_:loc1"))
    port = free_port()
    ini = workdir / "uwsgi.ini"
    ini.write_text(RECIPE.format(port=port, config=config))
    process = Process([UWSGI, "--ini", str(ini)], str(workdir / "uwsgi.log"))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(http_ready(url + "/"), 60, "the proxy under uWSGI", interval=0.2)
    except TimeoutError:
        process.stop()
        raise RuntimeError(f"uWSGI did not serve the proxy:\n{process.log()}") from None
    yield url
    process.stop()


def test_uwsgi_recipe_serves_the_proxy(uwsgi_proxy: str) -> None:
    headers = {"X-OpenStack-Ironic-API-Version": "1.73"}
    # uWSGI's HTTP router closes each connection after its response.
    with httpx.Client(base_url=uwsgi_proxy, headers=headers, timeout=30,
                      limits=httpx.Limits(max_keepalive_connections=0)) as client:
        root = client.get("/")
        assert root.status_code == 200
        assert root.json()["default_version"]["id"] == "v1"
        name = factories.name("wsgi")
        created = client.post("/v1/nodes", json={"driver": "fake-hardware", "name": name})
        assert created.status_code == 201, created.text
        # Each worker runs the app; several requests reach both.
        for _ in range(6):
            shown = client.get(f"/v1/nodes/{name}", params={"fields": "name,conductor"})
            assert shown.status_code == 200, shown.text
            assert shown.json()["name"] == name
            assert shown.json()["conductor"] == "wsgi-site"
        missing = client.get("/v1/nodes/no-such-node")
        assert missing.status_code == 404
        assert "error_message" in missing.json()
        assert client.delete(f"/v1/nodes/{name}").status_code == 204
        too_new = client.get("/v1/nodes", headers={"X-OpenStack-Ironic-API-Version": "1.999"})
        assert too_new.status_code == 406
