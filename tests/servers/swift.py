"""A real OpenStack Swift, all in one on loopback: proxy, account, container and object
servers with tempauth, tempurl and memcached (tempauth keeps its tokens there).

Swift (pip package ``swift`` 2.38) lives in a venv of its own under
~/.cache/ingot-tests/swift-venv (INGOT_TEST_CACHE overrides), installed once and reused:
its eventlet and pinned dependencies must not touch ingot's venv. Each server is
started directly with ``-v`` (logs to stdout, into a file per server; otherwise they go
to syslog and are lost) on a free port, with rings built for those ports, and stopped
by PID. Recipe: ../shared/reference/real-components.md.
"""

from __future__ import annotations

import os
import pathlib
import pwd
import shutil
import subprocess
import tempfile

import httpx
from swiftclient import client as swift_client

from tests.servers import venvs
from tests.servers.process import Process, free_port, http_ready, wait_until

SWIFT_REQUIREMENT = "swift==2.38.*"
VENV = venvs.CACHE / "swift-venv"
INSTALL_TIMEOUT = 600.0
SBIN = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/bin"])

ACCOUNT = "test"
USER = "tester"
KEY = "testing"
SERVERS = ("account", "container", "object")

PROXY_CONFIG = """\
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = {port}
workers = 1
user = {user}
swift_dir = {dir}
log_name = proxy-server

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats \
tempurl tempauth copy dlo versioned_writes proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:tempauth]
use = egg:swift#tempauth
user_{account}_{username} = {key} .admin

[filter:tempurl]
use = egg:swift#tempurl
allowed_digests = sha1 sha256 sha512

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:{memcached_port}

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:copy]
use = egg:swift#copy

[filter:dlo]
use = egg:swift#dlo

[filter:versioned_writes]
use = egg:swift#versioned_writes
"""

STORAGE_CONFIG = """\
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = {port}
workers = 1
user = {user}
swift_dir = {dir}
devices = {devices}
mount_check = false
disable_fallocate = true
log_name = {server}-server

[pipeline:main]
pipeline = {server}-server

[app:{server}-server]
use = egg:swift#{server}
"""

SWIFT_CONFIG = """\
[swift-hash]
swift_hash_path_suffix = ingot-tests
swift_hash_path_prefix = ingot-tests

[storage-policy:0]
name = gold
default = yes
"""


class SwiftUnavailable(RuntimeError):
    """Swift could not be installed or started here; the message says why."""


def swift_venv() -> pathlib.Path:
    """The venv holding Swift, installed on first use (about 20 s)."""
    try:
        return venvs.ensure("swift", (SWIFT_REQUIREMENT, "python-swiftclient"),
                            timeout=INSTALL_TIMEOUT)
    except venvs.InstallFailed as exc:
        raise SwiftUnavailable(str(exc)) from None


def _memcached_argv(port: int) -> list[str]:
    binary = shutil.which("memcached", path=SBIN)
    if binary is None:
        raise SwiftUnavailable("memcached is not installed (Debian package memcached; "
                               "tools/test installs it)")
    argv = [binary, "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "64"]
    # memcached refuses to run as root unless told which user to be.
    return [*argv, "-u", "root"] if os.geteuid() == 0 else argv


class SwiftServer:
    """Swift on free ports under ``workdir``; ``start()`` then ``stop()`` (by PID)."""

    def __init__(self, workdir: pathlib.Path | None = None):
        self.dir = workdir or pathlib.Path(tempfile.mkdtemp(prefix="ingot-swift-",
                                                           dir="/var/tmp"))
        self._own_dir = workdir is None
        self.dir.mkdir(parents=True, exist_ok=True)
        self.devices = self.dir / "srv"
        self.ports = {name: free_port() for name in ("proxy", "memcached", *SERVERS)}
        self.url = f"http://127.0.0.1:{self.ports['proxy']}"
        self.auth_url = f"{self.url}/auth/v1.0"
        self.endpoint = f"{self.url}/v1/AUTH_{ACCOUNT}"
        self.user = f"{ACCOUNT}:{USER}"
        self.key = KEY
        self.processes: dict[str, Process] = {}

    # -- lifecycle ---------------------------------------------------------------

    def start(self, timeout: float = 60) -> SwiftServer:
        venv = swift_venv()
        self._write_configs()
        self._build_rings(venv)
        try:
            self._launch("memcached", _memcached_argv(self.ports["memcached"]))
            for server in SERVERS:
                self._launch(server, [str(venv / "bin" / f"swift-{server}-server"),
                                      str(self.dir / f"{server}-server.conf"), "-v"])
            self._launch("proxy", [str(venv / "bin" / "swift-proxy-server"),
                                   str(self.dir / "proxy-server.conf"), "-v"])
            wait_until(self._healthy, timeout, "swift proxy", interval=0.2)
            # Storage servers answer once the proxy can write through them.
            wait_until(self._writable, timeout, "swift storage servers", interval=0.3)
        except (TimeoutError, SwiftUnavailable) as exc:
            logs = self.logs()
            self.stop()
            raise SwiftUnavailable(f"swift did not start: {exc}\n{logs}") from None
        return self

    def stop(self) -> None:
        for name in reversed(list(self.processes)):
            self.processes[name].stop(timeout=10)
        self.processes.clear()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> SwiftServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- clients -----------------------------------------------------------------

    def token(self) -> str:
        """A tempauth token for test:tester (swiftclient's get_auth, auth v1)."""
        _, token = swift_client.get_auth(self.auth_url, self.user, self.key, auth_version="1")
        return str(token)

    def connection(self) -> swift_client.Connection:
        return swift_client.Connection(authurl=self.auth_url, user=self.user, key=self.key,
                                       auth_version="1", retries=2, timeout=30)

    def set_account_key(self, key: str | None, *, second: bool = False) -> None:
        """Set (or remove, with None) the account's Temp-URL-Key (or Temp-URL-Key-2)."""
        header = "X-Account-Meta-Temp-URL-Key" + ("-2" if second else "")
        headers = {header: key} if key is not None else {
            header.replace("X-Account-Meta", "X-Remove-Account-Meta"): "x"}
        connection = self.connection()
        try:
            connection.post_account(headers)
        finally:
            connection.close()

    def swift_options(self) -> dict[str, str]:
        """[swift] options for ingot to reach this Swift with tempauth credentials."""
        return {"auth_type": "v1password", "auth_url": self.auth_url,
                "username": self.user, "password": self.key}

    # -- logs --------------------------------------------------------------------

    def proxy_log(self) -> str:
        process = self.processes.get("proxy")
        return process.log() if process else ""

    def logs(self) -> str:
        parts = []
        for name in ("memcached", *SERVERS, "proxy"):
            path = self.dir / f"{name}.log"
            if path.exists():
                text = path.read_text(errors="replace")[-3000:]
                parts.append(f"--- {name} ---\n{text}")
        return "\n".join(parts)

    # -- internals ---------------------------------------------------------------

    def _write_configs(self) -> None:
        user = pwd.getpwuid(os.geteuid()).pw_name
        (self.devices / "d1").mkdir(parents=True, exist_ok=True)
        (self.dir / "swift.conf").write_text(SWIFT_CONFIG)
        (self.dir / "proxy-server.conf").write_text(PROXY_CONFIG.format(
            port=self.ports["proxy"], user=user, dir=self.dir, account=ACCOUNT,
            username=USER, key=KEY, memcached_port=self.ports["memcached"]))
        for server in SERVERS:
            (self.dir / f"{server}-server.conf").write_text(STORAGE_CONFIG.format(
                port=self.ports[server], user=user, dir=self.dir, devices=self.devices,
                server=server))

    def _build_rings(self, venv: pathlib.Path) -> None:
        builder = str(venv / "bin" / "swift-ring-builder")
        for server in SERVERS:
            path = str(self.dir / f"{server}.builder")
            steps = [[builder, path, "create", "10", "1", "1"],
                     [builder, path, "add", "--region", "1", "--zone", "1", "--ip",
                      "127.0.0.1", "--port", str(self.ports[server]), "--device", "d1",
                      "--weight", "100"],
                     [builder, path, "rebalance"]]
            for argv in steps:
                result = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                                        check=False, cwd=self.dir)
                # rebalance exits 1 for warnings only (e.g. a single device).
                if result.returncode not in (0, 1):
                    raise SwiftUnavailable(f"{' '.join(argv[1:3])} failed:\n"
                                           f"{result.stdout}{result.stderr}")

    def _launch(self, name: str, argv: list[str]) -> None:
        self.processes[name] = Process(argv, str(self.dir / f"{name}.log"), cwd=str(self.dir))

    def _healthy(self) -> bool:
        for name, process in self.processes.items():
            if not process.alive():
                raise SwiftUnavailable(f"swift {name} exited")
        return http_ready(f"{self.url}/healthcheck")()

    def _writable(self) -> bool:
        try:
            token = self.token()
            response = httpx.put(f"{self.endpoint}/ingot-ready", timeout=5,
                                 headers={"X-Auth-Token": token})
        except (swift_client.ClientException, httpx.HTTPError, OSError):
            return False
        return response.status_code in (201, 202)
