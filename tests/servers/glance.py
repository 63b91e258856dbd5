"""A real OpenStack Glance (pip package ``glance``) without Keystone, on loopback.

Recipe: ../shared/reference/real-components.md. ``glance-api`` no longer runs standalone,
so ``glance.wsgi.api:application`` is served by uWSGI from the ``pyuwsgi`` wheel, with one
process and one thread (SQLite breaks under concurrent writes). SQLite database, file
store plus the staging and tasks stores in directories of their own, an empty paste
flavor (no auth) and ``enforce_new_defaults = False`` (otherwise every request is a 403).
uWSGI ignores ``env =``, so OS_GLANCE_CONFIG_DIR is exported to it.

Glance lives in a venv of its own under ~/.cache/ingot-tests/glance-venv
(INGOT_TEST_CACHE overrides), installed once (about 100 s) and reused.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import shutil
import subprocess
import tempfile
from typing import Any

import httpx

from tests.servers import venvs
from tests.servers.process import Process, free_port, wait_until

GLANCE_REQUIREMENT = "glance==33.*"
REQUIREMENTS = (GLANCE_REQUIREMENT, "pyuwsgi")
VENV = venvs.CACHE / "glance-venv"
INSTALL_TIMEOUT = 900.0

API_CONFIG = """\
[DEFAULT]
enabled_backends = fs:file
show_image_direct_url = {show_locations}
show_multiple_locations = {show_locations}
log_file = {dir}/glance-api.log

[glance_store]
default_backend = fs

[fs]
filesystem_store_datadir = {dir}/images

[os_glance_staging_store]
filesystem_store_datadir = {dir}/staging

[os_glance_tasks_store]
filesystem_store_datadir = {dir}/tasks

[database]
connection = sqlite:///{dir}/glance.sqlite

[paste_deploy]
flavor =
config_file = {dir}/glance-api-paste.ini

[oslo_policy]
enforce_new_defaults = False
"""

UWSGI_CONFIG = """\
[uwsgi]
http-socket = 127.0.0.1:{port}
module = glance.wsgi.api:application
master = true
processes = 1
threads = 1
http-auto-chunked = true
http-raw-body = true
chunked-input-limit = 67108864
die-on-term = true
need-app = true
# uWSGI closes the connection after each response without saying so; clients that
# reuse it at once (requests' pool) get a reset.
add-header = Connection: close
"""


class GlanceUnavailable(RuntimeError):
    """Glance could not be installed or started here; the message says why."""


@dataclasses.dataclass(frozen=True)
class UploadedImage:
    id: str
    size: int
    checksum: str  # md5
    os_hash_algo: str
    os_hash_value: str
    record: dict[str, Any]


def glance_venv() -> pathlib.Path:
    """The venv holding Glance and pyuwsgi, installed on first use."""
    try:
        return venvs.ensure("glance", REQUIREMENTS, timeout=INSTALL_TIMEOUT)
    except venvs.InstallFailed as exc:
        raise GlanceUnavailable(str(exc)) from None


def _paste_ini(venv: pathlib.Path) -> pathlib.Path:
    """The glance-api-paste.ini the glance wheel installs as data."""
    candidates = [venv / "etc" / "glance" / "glance-api-paste.ini"]
    candidates += list(venv.glob("lib/python*/site-packages/etc/glance/glance-api-paste.ini"))
    for path in candidates:
        if path.exists():
            return path
    raise GlanceUnavailable(f"glance-api-paste.ini not found in {venv}")


class GlanceServer:
    """Glance API on a free port under ``workdir``; ``start()`` then ``stop()`` (by PID)."""

    def __init__(self, workdir: pathlib.Path | None = None, *, show_locations: bool = True):
        """show_locations: Glance's show_image_direct_url and show_multiple_locations
        (off in Glance's defaults)."""
        self.show_locations = show_locations
        self.dir = workdir or pathlib.Path(tempfile.mkdtemp(prefix="ingot-glance-",
                                                           dir="/var/tmp"))
        self._own_dir = workdir is None
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.store = self.dir / "images"
        self.process: Process | None = None

    def start(self, timeout: float = 60) -> GlanceServer:
        venv = glance_venv()
        for name in ("images", "staging", "tasks", "conf"):
            (self.dir / name).mkdir(parents=True, exist_ok=True)
        conf_dir = self.dir / "conf"
        shutil.copy(_paste_ini(venv), self.dir / "glance-api-paste.ini")
        (conf_dir / "glance-api.conf").write_text(
            API_CONFIG.format(dir=self.dir, show_locations=self.show_locations))
        (self.dir / "uwsgi.ini").write_text(UWSGI_CONFIG.format(port=self.port))
        env = {"OS_GLANCE_CONFIG_DIR": str(conf_dir)}
        synced = subprocess.run([str(venv / "bin" / "glance-manage"), "--config-dir",
                                 str(conf_dir), "db_sync"], capture_output=True, text=True,
                                timeout=timeout, check=False, env={**os.environ, **env})
        if synced.returncode != 0:
            raise GlanceUnavailable(f"glance-manage db_sync failed:\n"
                                    f"{(synced.stdout + synced.stderr)[-2000:]}")
        self.process = Process([str(venv / "bin" / "uwsgi"), "--ini",
                                str(self.dir / "uwsgi.ini")],
                               str(self.dir / "uwsgi.log"), env=env, cwd=str(self.dir))
        try:
            wait_until(self._ready, timeout, "glance api", interval=0.2)
        except (TimeoutError, GlanceUnavailable) as exc:
            logs = self.logs()
            self.stop()
            raise GlanceUnavailable(f"glance did not start: {exc}\n{logs}") from None
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(timeout=15)
            self.process = None
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> GlanceServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _ready(self) -> bool:
        assert self.process is not None
        if not self.process.alive():
            raise GlanceUnavailable("uwsgi exited")
        try:
            return httpx.get(f"{self.url}/v2/images", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def logs(self) -> str:
        parts = []
        for name in ("uwsgi.log", "glance-api.log"):
            path = self.dir / name
            if path.exists():
                parts.append(f"--- {name} ---\n{path.read_text(errors='replace')[-3000:]}")
        return "\n".join(parts)

    # -- images ------------------------------------------------------------------

    def create_image(self, name: str = "ingot-test", disk_format: str = "raw",
                     **properties: Any) -> str:
        """POST /v2/images: a queued image without data; returns its id."""
        body = {"name": name, "disk_format": disk_format, "container_format": "bare",
                **properties}
        response = httpx.post(f"{self.url}/v2/images", json=body, timeout=30)
        response.raise_for_status()
        return str(response.json()["id"])

    def upload(self, data: bytes, name: str = "ingot-test", disk_format: str = "raw",
               **properties: Any) -> UploadedImage:
        """Create an image and PUT its data; returns Glance's record of it."""
        image_id = self.create_image(name, disk_format, **properties)
        response = httpx.put(f"{self.url}/v2/images/{image_id}/file", content=data,
                             headers={"Content-Type": "application/octet-stream"},
                             timeout=60)
        response.raise_for_status()
        record = self.show(image_id)
        if record.get("status") != "active":
            raise GlanceUnavailable(f"uploaded image {image_id} is {record.get('status')}")
        return UploadedImage(image_id, int(record["size"]), str(record["checksum"]),
                             str(record["os_hash_algo"]), str(record["os_hash_value"]),
                             record)

    def show(self, image_id: str) -> dict[str, Any]:
        response = httpx.get(f"{self.url}/v2/images/{image_id}", timeout=30)
        response.raise_for_status()
        return dict(response.json())

    def data_requests(self, image_id: str) -> int:
        """How many times uWSGI served the image's data (GET .../file)."""
        path = self.dir / "uwsgi.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return sum(1 for line in text.splitlines()
                   if f"GET /v2/images/{image_id}/file" in line)
