"""Auto TLS, as ironic-python-agent does it by default: a self-signed certificate for
the address the agent advertises, whose PEM the heartbeats carry as agent_verify_ca so
the conductor verifies the command API against exactly it."""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import pathlib
import socket

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

VALID_DAYS = 90


@dataclasses.dataclass(frozen=True)
class Certificate:
    pem: str
    cert_file: pathlib.Path
    key_file: pathlib.Path


def generate(host: str, directory: pathlib.Path) -> Certificate:
    """A key and a self-signed certificate for host (an IP address or a name), written
    into directory (which only this process should read)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, socket.gethostname()[:64]
                                          or "ingot-agent")])
    try:
        alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        alt = x509.DNSName(host)
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
            .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    cert_file = directory / "agent.crt"
    key_file = directory / "agent.key"
    key_file.touch(mode=0o600)
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_file.write_text(pem)
    return Certificate(pem, cert_file, key_file)
