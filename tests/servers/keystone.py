"""A real OpenStack Keystone on loopback: SQLite, fernet tokens, served by gunicorn.

Keystone (pip package ``keystone``) lives in a venv of its own under
~/.cache/ingot-tests/keystone-venv (INGOT_TEST_CACHE overrides), installed once and
reused: its eventlet and oslo pins must not touch ingot's venv. ``keystone-manage
db_sync`` runs once at install time into a template database (it costs seconds and does
not depend on the port); each server copies it, runs ``fernet_setup``,
``credential_setup`` and ``bootstrap`` and starts gunicorn on a free port, overlapping
what does not depend on each other, and is stopped by PID.

Admin helpers (projects, users, roles, services, tokens, revocation) talk to the real
Keystone API with keystoneauth1 as the bootstrap admin.
"""

from __future__ import annotations

import dataclasses
import grp
import os
import pathlib
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from typing import Any

from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from tests.servers import venvs
from tests.servers.process import Process, free_port, http_ready, wait_until

# Pinned so that a cached venv and a fresh CI machine run the same Keystone.
REQUIREMENTS = ("keystone==30.0.0", "gunicorn==27.0.1")
VENV = venvs.CACHE / "keystone-venv"
TEMPLATE_NAME = "ingot-template.sqlite"
TEMPLATE = VENV / TEMPLATE_NAME
INSTALL_TIMEOUT = 900.0
MANAGE_TIMEOUT = 120.0
REGION = "RegionOne"
DOMAIN = "Default"  # bootstrap's domain: id "default", name "Default"
# Keystone's Python warns about eventlet on every start; the noise hides real errors.
QUIET = {"PYTHONWARNINGS": "ignore"}

KEYSTONE_CONFIG = """\
[DEFAULT]
use_stderr = true

[database]
connection = sqlite:///{db}

[token]
provider = fernet

[fernet_tokens]
key_repository = {dir}/fernet-keys

[fernet_receipts]
key_repository = {dir}/fernet-keys

[credential]
key_repository = {dir}/credential-keys

[identity]
# The default bcrypt cost is for production; a test Keystone checks passwords often.
password_hash_rounds = 4
"""

# gunicorn reads ./gunicorn.conf.py: Keystone parses sys.argv with oslo.config and
# rejects any gunicorn command-line option, so everything goes in this file.
GUNICORN_CONFIG = """\
wsgi_app = "keystone.wsgi.api:application"
bind = "127.0.0.1:{port}"
workers = 1
threads = {threads}
timeout = 60
# Stopping waits this long for open keep-alive connections; tests need no grace.
graceful_timeout = 1
# Otherwise every gunicorn shares one control socket under $HOME.
control_socket_disable = True
"""


class KeystoneUnavailable(RuntimeError):
    """Keystone could not be installed or started here; the message says why."""


@dataclasses.dataclass(frozen=True)
class Account:
    """A Keystone user with a project-scoped role, as a client would log in."""

    username: str
    password: str
    project_name: str
    auth_url: str

    def password_auth(self) -> v3.Password:
        return v3.Password(auth_url=self.auth_url, username=self.username,
                           password=self.password, project_name=self.project_name,
                           user_domain_name=DOMAIN, project_domain_name=DOMAIN)

    def token(self) -> str:
        """A new token: Keystone issues a fresh one on every password login."""
        token = ks_session.Session(auth=self.password_auth()).get_token()
        assert token, f"Keystone gave {self.username} no token"
        return token

    def env(self) -> dict[str, str]:
        """The OS_* variables of an openrc file for this account."""
        return {"OS_AUTH_TYPE": "password", "OS_AUTH_URL": self.auth_url,
                "OS_IDENTITY_API_VERSION": "3", "OS_USERNAME": self.username,
                "OS_PASSWORD": self.password, "OS_PROJECT_NAME": self.project_name,
                "OS_USER_DOMAIN_NAME": DOMAIN, "OS_PROJECT_DOMAIN_NAME": DOMAIN,
                "OS_REGION_NAME": REGION, "OS_INTERFACE": "public"}


def _run(argv: Sequence[str], what: str, timeout: float,
         env: dict[str, str] | None = None) -> None:
    try:
        result = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                                env={**os.environ, **QUIET, **(env or {})}, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise KeystoneUnavailable(f"{what}: {exc}") from None
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip()[-2000:]
        raise KeystoneUnavailable(f"{what} failed:\n{tail}")


def _template_database(venv: pathlib.Path) -> None:
    with tempfile.TemporaryDirectory(prefix="ingot-keystone-sync-") as tmp:
        config = pathlib.Path(tmp) / "keystone.conf"
        config.write_text(KEYSTONE_CONFIG.format(db=venv / TEMPLATE_NAME, dir=tmp))
        _run([str(venv / "bin" / "keystone-manage"), "--config-file", str(config),
              "db_sync"], "keystone-manage db_sync", MANAGE_TIMEOUT)


def keystone_venv() -> pathlib.Path:
    """The venv holding Keystone and gunicorn plus a synced template database."""
    try:
        return venvs.ensure("keystone", REQUIREMENTS, timeout=INSTALL_TIMEOUT,
                            after=_template_database)
    except venvs.InstallFailed as exc:
        raise KeystoneUnavailable(str(exc)) from None


def _spawn(argv: Sequence[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)


def _finish(name: str, popen: subprocess.Popen[str]) -> str | None:
    """Waits for a keystone-manage step (bounded); the error message if it failed."""
    try:
        output, _ = popen.communicate(timeout=MANAGE_TIMEOUT)
    except subprocess.TimeoutExpired:
        popen.kill()
        output, _ = popen.communicate()
    if popen.returncode != 0:
        return f"keystone-manage {name} failed:\n{output[-2000:]}"
    return None


class KeystoneServer:
    """Keystone under ``workdir``: ``start()``, ``stop()`` and ``start()`` again (same
    port, database and keys, so earlier tokens stay valid)."""

    def __init__(self, workdir: pathlib.Path, threads: int = 4):
        """threads: requests served at once. Keystone's SQLite database answers
        "database is locked" (a 500) to concurrent logins, which a client logging in
        from several processes at once (tempest's workers) runs into."""
        self.threads = threads
        self.dir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.auth_url = f"{self.url}/v3"
        self.admin = Account("admin", secrets.token_urlsafe(16), "admin", self.auth_url)
        self.config = workdir / "keystone.conf"
        self.process: Process | None = None
        self._bootstrapped = False
        self._admin_session: ks_session.Session | None = None

    # -- lifecycle ---------------------------------------------------------------

    def start(self, timeout: float = 60) -> KeystoneServer:
        venv = keystone_venv()
        bootstrap = None if self._bootstrapped else self._setup(venv)
        (self.dir / "gunicorn.conf.py").write_text(GUNICORN_CONFIG.format(port=self.port,
                                                                        threads=self.threads))
        # Started while bootstrap still runs: both spend seconds importing Keystone.
        self.process = Process([str(venv / "bin" / "gunicorn")],
                               str(self.dir / "keystone.log"), cwd=str(self.dir),
                               env={**QUIET, "OS_KEYSTONE_CONFIG_FILES": str(self.config)})
        try:
            if bootstrap is not None:
                self._finish_setup(bootstrap)
                self._bootstrapped = True
            wait_until(http_ready(self.auth_url), timeout, "keystone")
        except TimeoutError:
            log = self.process.log()[-4000:]
            self.stop()
            raise KeystoneUnavailable(f"keystone did not answer within {timeout} s:\n"
                                      f"{log}") from None
        except KeystoneUnavailable:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def alive(self) -> bool:
        return self.process is not None and self.process.alive()

    def log(self) -> str:
        path = self.dir / "keystone.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _setup(self, venv: pathlib.Path) -> dict[str, subprocess.Popen[str]]:
        """Database and keys; returns the keystone-manage steps still running.

        Each keystone-manage spends seconds importing Keystone, so the steps overlap:
        only bootstrap and the server wait, for fernet_setup (the token provider refuses
        to load without its keys).
        """
        db = self.dir / "keystone.sqlite"
        shutil.copyfile(TEMPLATE, db)
        self.config.write_text(KEYSTONE_CONFIG.format(db=db, dir=self.dir))
        manage = [str(venv / "bin" / "keystone-manage"), "--config-file", str(self.config)]
        owner = ["--keystone-user", pwd.getpwuid(os.getuid()).pw_name,
                 "--keystone-group", grp.getgrgid(os.getgid()).gr_name]
        # The password goes in the environment, not argv: ps shows argv to everyone.
        env = {**os.environ, **QUIET, "OS_BOOTSTRAP_PASSWORD": self.admin.password}
        running = {"credential_setup": _spawn([*manage, "credential_setup", *owner], env)}
        failure = _finish("fernet_setup", _spawn([*manage, "fernet_setup", *owner], env))
        if failure:
            _finish("credential_setup", running["credential_setup"])  # not left behind
            raise KeystoneUnavailable(failure)
        running["bootstrap"] = _spawn(
            [*manage, "bootstrap", "--bootstrap-admin-url", self.auth_url,
             "--bootstrap-public-url", self.auth_url, "--bootstrap-region-id", REGION], env)
        return running

    @staticmethod
    def _finish_setup(running: dict[str, subprocess.Popen[str]]) -> None:
        errors = [error for name, popen in running.items() if (error := _finish(name, popen))]
        if errors:
            raise KeystoneUnavailable("\n".join(errors))

    def authtoken_options(self, account: Account) -> dict[str, str]:
        """[keystone_authtoken] for a service user, as Ironic's install guide writes it
        (keystonemiddleware's www_authenticate_uri and region_name included)."""
        return {"auth_type": "password", "www_authenticate_uri": self.url,
                "auth_url": self.url, "username": account.username,
                "password": account.password, "user_domain_name": DOMAIN,
                "project_name": account.project_name, "project_domain_name": DOMAIN,
                "region_name": REGION}

    # -- admin helpers -----------------------------------------------------------

    def admin_session(self) -> ks_session.Session:
        if self._admin_session is None:
            self._admin_session = ks_session.Session(auth=self.admin.password_auth())
        return self._admin_session

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.admin_session().request(self.auth_url + path, method, **kwargs)
        return response.json() if response.content else None

    def _find(self, collection: str, name: str) -> str | None:
        found = self._call("GET", f"/{collection}?name={name}")[collection]
        return found[0]["id"] if found else None

    def ensure_role(self, name: str) -> str:
        """The role's id, created if missing (bootstrap makes admin, manager, member,
        reader and service)."""
        role_id = self._find("roles", name)
        if role_id is None:
            role_id = self._call("POST", "/roles", json={"role": {"name": name}})["role"]["id"]
        return role_id

    def ensure_project(self, name: str) -> str:
        project_id = self._find("projects", name)
        if project_id is None:
            project_id = self._call("POST", "/projects", json={"project": {
                "name": name, "domain_id": "default"}})["project"]["id"]
        return project_id

    def create_user(self, name: str, project: str, roles: Sequence[str],
                    password: str | None = None) -> Account:
        """A new user in the default domain with ``roles`` on ``project``."""
        password = password or secrets.token_urlsafe(16)
        project_id = self.ensure_project(project)
        user_id = self._call("POST", "/users", json={"user": {
            "name": name, "password": password, "domain_id": "default",
            "default_project_id": project_id}})["user"]["id"]
        for role in roles:
            self._call("PUT", f"/projects/{project_id}/users/{user_id}/roles/"
                              f"{self.ensure_role(role)}")
        return Account(name, password, project, self.auth_url)

    def create_system_user(self, name: str, roles: Sequence[str],
                           password: str | None = None) -> Account:
        """A new user in the default domain with ``roles`` on the whole system (what
        system-scoped tokens carry). The Account's project is its default project."""
        password = password or secrets.token_urlsafe(16)
        project_id = self.ensure_project(name)
        user_id = self._call("POST", "/users", json={"user": {
            "name": name, "password": password, "domain_id": "default",
            "default_project_id": project_id}})["user"]["id"]
        for role in roles:
            self._call("PUT", f"/system/users/{user_id}/roles/{self.ensure_role(role)}")
        return Account(name, password, name, self.auth_url)

    def register_service(self, service_type: str, name: str, url: str,
                         interfaces: Sequence[str] = ("public", "internal")) -> str:
        """A catalog entry: the service and one endpoint per interface in REGION."""
        service_id: str = self._call("POST", "/services", json={"service": {
            "type": service_type, "name": name}})["service"]["id"]
        for interface in interfaces:
            self._call("POST", "/endpoints", json={"endpoint": {
                "service_id": service_id, "interface": interface, "url": url,
                "region_id": REGION}})
        return service_id

    def revoke(self, token: str) -> None:
        """DELETE /v3/auth/tokens: Keystone answers 404 for the token from now on."""
        self._call("DELETE", "/auth/tokens", headers={"X-Subject-Token": token})

    def validate(self, token: str) -> int:
        """Keystone's own status for ``token``: 200 valid, 404 invalid or revoked."""
        response = self.admin_session().get(self.auth_url + "/auth/tokens", raise_exc=False,
                                            headers={"X-Subject-Token": token})
        return int(response.status_code)
