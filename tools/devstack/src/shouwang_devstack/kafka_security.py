"""A local broker that checks who speaks: TLS with a self-signed CA, SCRAM-SHA-512 users, ACLs.

`SaslSsl` describes the listener: a CA and a broker certificate generated on first run in a
folder of the data dir (kept, so clients that trust the CA keep trusting it), the admin user
the broker and the provisioning speak as, and one SCRAM user per service (`shouwang-<svc>`)
whose passwords derive from a secret. `LocalKafka(sasl_ssl=...)` serves it: a SASL_SSL
listener for clients and the broker itself, StandardAuthorizer with the admin as super user,
nothing allowed that no ACL allows. The controller's quorum listener stays PLAINTEXT on
loopback (KRaft's controller cannot authenticate with SCRAM, whose credentials it stores).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import ipaddress
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from shouwang_contracts.topics import sasl_user, service_acls

ADMIN_USER = "shouwang-admin"
MECHANISM = "SCRAM-SHA-512"
LISTENER = "SASL_SSL"


@dataclass(frozen=True, slots=True)
class BrokerTls:
    """The CA clients trust (`ca_file`) and the broker's key and certificate (`broker_pem`)."""

    ca_file: Path
    broker_pem: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def ensure_tls(folder: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> BrokerTls:
    """A self-signed CA and a broker certificate for `hosts`, generated once in `folder`."""
    tls = BrokerTls(folder / "ca.pem", folder / "broker.pem")
    if tls.ca_file.is_file() and tls.broker_pem.is_file():
        return tls
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    later = now + datetime.timedelta(days=3650)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Shouwang local CA"))
        .issuer_name(_name("Shouwang local CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(later)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    broker = (
        x509.CertificateBuilder()
        .subject_name(_name("shouwang-kafka"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(later)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    tls.broker_pem.write_bytes(key_pem + broker.public_bytes(pem) + ca.public_bytes(pem))
    tls.broker_pem.chmod(0o600)
    tls.ca_file.write_bytes(ca.public_bytes(pem))
    return tls


def scram_password(user: str, secret: str) -> str:
    """The SCRAM password of `user`: HMAC of its name under the local secret."""
    return hmac.new(secret.encode(), f"kafka-scram:{user}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SaslSsl:
    """A SASL_SSL listener with SCRAM-SHA-512 users: the admin and one per service."""

    tls: BrokerTls
    secret: str
    services: tuple[str, ...] = field(
        default_factory=lambda: tuple(acl.service for acl in service_acls())
    )

    def password(self, user: str) -> str:
        return scram_password(user, self.secret)

    @property
    def users(self) -> list[str]:
        return [ADMIN_USER, *(sasl_user(s) for s in self.services)]

    def broker_properties(self, host: str, port: int, controller_port: int) -> dict[str, str]:
        """What server.properties needs for this listener (LocalKafka merges it in)."""
        jaas = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{ADMIN_USER}" password="{self.password(ADMIN_USER)}";'
        )
        return {
            "listeners": f"{LISTENER}://{host}:{port},CONTROLLER://{host}:{controller_port}",
            "advertised.listeners": f"{LISTENER}://{host}:{port}",
            "inter.broker.listener.name": LISTENER,
            "listener.security.protocol.map": f"{LISTENER}:SASL_SSL,CONTROLLER:PLAINTEXT",
            "sasl.enabled.mechanisms": MECHANISM,
            "sasl.mechanism.inter.broker.protocol": MECHANISM,
            f"listener.name.{LISTENER.lower()}.{MECHANISM.lower()}.sasl.jaas.config": jaas,
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(self.tls.broker_pem),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(self.tls.ca_file),
            "ssl.client.auth": "none",
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            # The controller listener (loopback, PLAINTEXT) speaks as ANONYMOUS.
            "super.users": f"User:{ADMIN_USER};User:ANONYMOUS",
            "allow.everyone.if.no.acl.found": "false",
        }

    def format_arguments(self) -> list[str]:
        """StorageTool arguments that create every SCRAM user when the storage is formatted."""
        arguments: list[str] = []
        for user in self.users:
            arguments += [
                "--add-scram",
                f"{MECHANISM}=[name={user},password={self.password(user)}]",
            ]
        return arguments

    def client(self, user: str = ADMIN_USER) -> dict[str, Any]:
        """aiokafka keyword arguments to connect as `user` (TLS against the local CA)."""
        return {
            "security_protocol": LISTENER,
            "sasl_mechanism": MECHANISM,
            "sasl_plain_username": user,
            "sasl_plain_password": self.password(user),
            "ssl_context": ssl.create_default_context(cafile=str(self.tls.ca_file)),
        }

    def service_env(self, service: str) -> dict[str, str]:
        """The environment a service process needs to speak as its own user."""
        user = sasl_user(service)
        return {
            "KAFKA_SECURITY_PROTOCOL": LISTENER,
            "KAFKA_SASL_MECHANISM": MECHANISM,
            "KAFKA_SASL_USERNAME": user,
            "KAFKA_SASL_PASSWORD": self.password(user),
            "KAFKA_SSL_CAFILE": str(self.tls.ca_file),
        }
