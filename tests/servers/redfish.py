"""A real sushy-tools Redfish emulator (``sushy-emulator``), started by PID on a free port:
its fake driver (systems that only keep their power state and boot override) or its
libvirt driver (real VMs), with basic auth and optionally TLS."""

from __future__ import annotations

import datetime
import ipaddress
import os
import pathlib
import shutil
import ssl
import sys
from typing import Any

import bcrypt
import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.servers.process import Process, free_port, unavailable, wait_until

EMULATOR = shutil.which("sushy-emulator") or os.path.join(os.path.dirname(sys.executable),
                                                          "sushy-emulator")
USERNAME = "admin"
PASSWORD = "bmc-Secret-pw"


def self_signed(directory: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    """A certificate for 127.0.0.1 and its key (the certificate is its own CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ingot test BMC")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "bmc.crt", directory / "bmc.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class RedfishEmulator:
    def __init__(self, workdir: pathlib.Path, *, fake_systems: list[dict[str, Any]] | None = None,
                 libvirt_uri: str | None = None, allowed: list[str] | None = None,
                 tls: bool = False):
        if not os.path.exists(EMULATOR):
            unavailable("sushy-emulator is not installed (PyPI sushy-tools)")
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
        (workdir / "htpasswd").write_text(f"{USERNAME}:{hashed}\n")
        config: dict[str, Any] = {
            "SUSHY_EMULATOR_LISTEN_IP": "127.0.0.1",
            "SUSHY_EMULATOR_LISTEN_PORT": self.port,
            "SUSHY_EMULATOR_AUTH_FILE": str(workdir / "htpasswd"),
            "SUSHY_EMULATOR_STATE_DIR": str(workdir / "state"),
        }
        if fake_systems is not None:
            config["SUSHY_EMULATOR_FAKE_DRIVER"] = True
            config["SUSHY_EMULATOR_FAKE_SYSTEMS"] = fake_systems
        if libvirt_uri is not None:
            config["SUSHY_EMULATOR_LIBVIRT_URI"] = libvirt_uri
        if allowed is not None:
            # Only these domains: other tests' machines may share the libvirtd.
            config["SUSHY_EMULATOR_ALLOWED_INSTANCES"] = allowed
        self.ca: pathlib.Path | None = None
        if tls:
            self.ca, key = self_signed(workdir)
            config["SUSHY_EMULATOR_SSL_CERT"] = str(self.ca)
            config["SUSHY_EMULATOR_SSL_KEY"] = str(key)
        self.config = workdir / "emulator.conf"
        self.config.write_text("".join(f"{k} = {v!r}\n" for k, v in config.items()))
        self.process: Process | None = None

    def start(self, timeout: float = 30) -> RedfishEmulator:
        self.process = Process([EMULATOR, "--config", str(self.config)],
                               str(self.workdir / "emulator.log"))
        try:
            wait_until(self._ready, timeout, "sushy-emulator", interval=0.2)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"sushy-emulator did not start:\n{self.log()}") from None
        return self

    def _ready(self) -> bool:
        try:
            return self.get("/redfish/v1/").status_code == 200
        except httpx.HTTPError:
            return False

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, auth=(USERNAME, PASSWORD), verify=self._verify(),
                         timeout=10)

    def reset(self, identity: str, reset_type: str) -> None:
        """Press the power button behind ingot's back."""
        response = httpx.post(
            f"{self.url}/redfish/v1/Systems/{identity}/Actions/ComputerSystem.Reset",
            json={"ResetType": reset_type}, auth=(USERNAME, PASSWORD), verify=self._verify(),
            timeout=10)
        response.raise_for_status()

    def _verify(self) -> ssl.SSLContext | bool:
        return ssl.create_default_context(cafile=self.ca) if self.ca else True

    def driver_info(self, identity: str, **extra: Any) -> dict[str, Any]:
        """A redfish node's driver_info for the system identity here, extra on top."""
        return {"redfish_address": self.url,
                "redfish_system_id": f"/redfish/v1/Systems/{identity}",
                "redfish_username": USERNAME, "redfish_password": PASSWORD, **extra}

    def system(self, identity: str) -> dict[str, Any]:
        response = self.get(f"/redfish/v1/Systems/{identity}")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def log(self) -> str:
        return self.process.log() if self.process else ""

    def __enter__(self) -> RedfishEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
