"""Certificates for TLS tests: a CA, a server certificate for 127.0.0.1 and a client certificate, as PEM."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Pair:
    cert: str
    key: str


@dataclass(frozen=True)
class Bundle:
    ca: Pair
    server: Pair
    client: Pair

    def server_context(self, folder: Path) -> ssl.SSLContext:
        """A server context presenting the server certificate and requiring a client certificate from the CA."""
        (folder / "server.pem").write_text(self.server.cert)
        (folder / "server.key").write_text(self.server.key)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cadata=self.ca.cert)
        context.load_cert_chain(folder / "server.pem", folder / "server.key")
        context.verify_mode = ssl.CERT_REQUIRED
        return context


def _pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _issue(
    name: str,
    issuer: x509.Name,
    signer: ec.EllipticCurvePrivateKey | None,
    *,
    ca: bool = False,
    ip: bool = False,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer if signer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
    if ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
    return builder.sign(signer or key, hashes.SHA256()), key


def make_bundle() -> Bundle:
    """A fresh CA with a server certificate for 127.0.0.1 and a client certificate, both signed by it."""
    ca_cert, ca_key = _issue("test-ca", x509.Name([]), None, ca=True)
    server_cert, server_key = _issue("127.0.0.1", ca_cert.subject, ca_key, ip=True)
    client_cert, client_key = _issue("powerworker", ca_cert.subject, ca_key)

    def pair(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Pair:
        return Pair(cert.public_bytes(serialization.Encoding.PEM).decode(), _pem(key))

    return Bundle(pair(ca_cert, ca_key), pair(server_cert, server_key), pair(client_cert, client_key))
