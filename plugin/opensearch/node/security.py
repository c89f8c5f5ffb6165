"""A secured OpenSearch node's own CA, node certificate, users and roles (no demo config).

:func:`write_security_config` makes everything the security plugin reads at first start:
a fresh CA and a node certificate for ``127.0.0.1``/``localhost`` (Python ``cryptography``),
``opensearch.yml`` settings for TLS on HTTP and transport, and the internal users, roles
and role mappings. Passwords are stored only as bcrypt hashes, computed by the plugin's own
``Hasher`` with the password passed in its environment (never on a command line).

Two kinds of user are made: administrators (``all_access``) and application users with the
``sparsedoc_app`` role, which can read and write only indices matching ``index_patterns``
and use ML Commons, ingest and search pipelines.

:func:`write_node_security` puts all of it in one folder for a node whose config folder is
not ours, e.g. a container's (docker/docker-compose.secure-local.yml mounts it).
"""

from __future__ import annotations

import datetime
import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparsedoc.encoder.errors import BackendError
from sparsedoc.encoder.extras import import_extra

from ...java.runtime import JavaRuntime

APP_ROLE = "sparsedoc_app"
NODE_DN = "CN=sparsedoc-node,OU=sparsedoc,O=sparsedoc"
ADMIN_DN = "CN=sparsedoc-admin,OU=sparsedoc,O=sparsedoc"
CA_FILE, NODE_CERT, NODE_KEY = "root-ca.pem", "node.pem", "node-key.pem"

APP_CLUSTER_PERMISSIONS = (
    "cluster_composite_ops",  # bulk, mget, msearch
    "cluster:monitor/main", "cluster:monitor/health", "cluster:monitor/state", "cluster:monitor/nodes/info",
    "cluster:admin/opensearch/ml/*",
    "cluster:admin/ingest/pipeline/*",
    "cluster:admin/search/pipeline/*",
)


@dataclass(frozen=True)
class User:
    """A user of a secured node; ``admin`` users get ``all_access``, others ``sparsedoc_app``."""

    name: str
    password: str = field(repr=False)
    admin: bool = False


def _certificate_pair(common_name: str, issuer: Any | None, issuer_key: Any | None, *, ca: bool) -> tuple[Any, Any]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cn, ou, o = (part.split("=", 1)[1] for part in common_name.split(","))
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, o),
                         x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
                         x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer.subject if issuer is not None else subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False),
            critical=True)
    else:
        import ipaddress

        builder = (builder
                   .add_extension(x509.SubjectAlternativeName([
                       x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                         ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
    certificate = builder.sign(issuer_key if issuer_key is not None else key, hashes.SHA256())
    return certificate, key


def write_certificates(directory: Path) -> Path:
    """Write a new CA and a node certificate signed by it; return the CA file (the client's bundle)."""
    serialization = import_extra("cryptography.hazmat.primitives.serialization", "a secured node")
    directory.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key = _certificate_pair("CN=sparsedoc-test-ca,OU=sparsedoc,O=sparsedoc", None, None, ca=True)
    node_cert, node_key = _certificate_pair(NODE_DN, ca_cert, ca_key, ca=False)
    pem = serialization.Encoding.PEM
    (directory / CA_FILE).write_bytes(ca_cert.public_bytes(pem))
    (directory / NODE_CERT).write_bytes(node_cert.public_bytes(pem))
    key_file = directory / NODE_KEY
    key_file.write_bytes(node_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
    key_file.chmod(0o600)
    return directory / CA_FILE


def tls_settings() -> dict[str, Any]:
    """``opensearch.yml`` settings of the security plugin (paths relative to the config dir)."""
    return {
        "plugins.security.ssl.transport.pemcert_filepath": NODE_CERT,
        "plugins.security.ssl.transport.pemkey_filepath": NODE_KEY,
        "plugins.security.ssl.transport.pemtrustedcas_filepath": CA_FILE,
        "plugins.security.ssl.transport.enforce_hostname_verification": False,
        "plugins.security.ssl.http.enabled": True,
        "plugins.security.ssl.http.pemcert_filepath": NODE_CERT,
        "plugins.security.ssl.http.pemkey_filepath": NODE_KEY,
        "plugins.security.ssl.http.pemtrustedcas_filepath": CA_FILE,
        "plugins.security.allow_default_init_securityindex": True,
        "plugins.security.authcz.admin_dn": [ADMIN_DN],
        "plugins.security.nodes_dn": [NODE_DN],
        "plugins.security.restapi.roles_enabled": ["all_access"],
        "plugins.security.audit.type": "noop",
        "plugins.security.check_snapshot_restore_write_privileges": True,
    }


def opensearch_yml(settings: dict[str, Any]) -> str:
    """``opensearch.yml`` text of ``settings`` (one ``key: JSON value`` line each; JSON is valid YAML)."""
    return "".join(f"{key}: {json.dumps(value)}\n" for key, value in settings.items())


def hash_password(password: str, dist_dir: Path, java: JavaRuntime) -> str:
    """bcrypt hash of ``password`` by the security plugin's ``Hasher`` (password via environment)."""
    plugin = dist_dir / "plugins" / "opensearch-security"
    classpath = f"{plugin}/*:{plugin}/deps/*:{dist_dir}/lib/*"
    done = subprocess.run([str(java.home / "bin" / "java"), "-cp", classpath,
                           "org.opensearch.security.tools.Hasher", "-env", "SPARSEDOC_HASH_INPUT"],
                          env={"SPARSEDOC_HASH_INPUT": password, "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=120)
    hashed = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    if done.returncode != 0 or not hashed.startswith("$2"):
        raise BackendError(f"cannot hash a password with the security plugin's Hasher: {done.stderr.strip()[-300:]}")
    return hashed


def _yaml(kind: str, body: dict[str, Any]) -> str:
    """A security config file (JSON is valid YAML)."""
    return json.dumps({"_meta": {"type": kind, "config_version": 2}, **body}, indent=1)


def write_security_config(conf_dir: Path, dist_dir: Path, java: JavaRuntime, users: Sequence[User],
                          index_patterns: Sequence[str] = ("sparsedoc*",)) -> None:
    """Write users, roles, mappings and the authentication config into ``conf_dir/opensearch-security``."""
    if not any(u.admin for u in users):
        raise BackendError("a secured node needs at least one admin user")
    security = conf_dir / "opensearch-security"
    security.mkdir(parents=True, exist_ok=True)
    internal = {u.name: {"hash": hash_password(u.password, dist_dir, java), "reserved": True,
                         "description": "sparsedoc admin" if u.admin else "sparsedoc application user"}
                for u in users}
    (security / "internal_users.yml").write_text(_yaml("internalusers", internal))
    roles = {APP_ROLE: {"cluster_permissions": list(APP_CLUSTER_PERMISSIONS),
                        "index_permissions": [{"index_patterns": list(index_patterns),
                                               "allowed_actions": ["indices_all"]}]}}
    (security / "roles.yml").write_text(_yaml("roles", roles))
    mapping = {"all_access": {"users": [u.name for u in users if u.admin]},
               APP_ROLE: {"users": [u.name for u in users if not u.admin]}}
    (security / "roles_mapping.yml").write_text(_yaml("rolesmapping", mapping))
    config = {"config": {"dynamic": {"http": {"anonymous_auth_enabled": False}, "authc": {"basic": {
        "http_enabled": True, "transport_enabled": True, "order": 0,
        "http_authenticator": {"type": "basic", "challenge": True},
        "authentication_backend": {"type": "intern"}}}}}}
    (security / "config.yml").write_text(_yaml("config", config))


def write_node_security(directory: Path, dist_dir: Path, java: JavaRuntime, users: Sequence[User]) -> Path:
    """A new CA and node certificate, ``opensearch.yml`` with :func:`tls_settings` and ``opensearch-security/``
    with ``users``, all in ``directory``, laid out as in a node's config folder; return the CA file.

    ``dist_dir`` is an installed distribution with the security plugin (its ``Hasher`` hashes the
    passwords). Only the users, roles, role mappings and authentication config are written; the
    plugin's other security files keep the distribution's defaults.
    """
    ca_file = write_certificates(directory)
    (directory / "opensearch.yml").write_text(opensearch_yml(tls_settings()))
    write_security_config(directory, dist_dir, java, users)
    return ca_file
