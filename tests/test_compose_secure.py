"""docker/docker-compose.yml (security plugin, TLS + basic auth) brought up with
docker/docker-compose.secure-local.yml on the locally built OpenSearch 2.19.1 image, with the CA,
node certificate and users of ``sparsedoc opensearch security-config``: the least-privilege user
ingests and searches (neural_sparse) over TLS, a wrong password ends in one line, no password is
on a command line, and ``down -v`` leaves nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import free_port
from opensearch_containers import ComposeStack, opensearch_image
from opensearch_nodes import SECURED_VERSION, new_password

from sparsedoc.encoder.errors import BackendError
from sparsedoc.encoder.sparse_vector import SparseVector
from sparsedoc.plugin.base import EncodedDocument
from sparsedoc.plugin.opensearch.backend import OpenSearchBackend
from sparsedoc.plugin.opensearch.client import open_client

pytestmark = [pytest.mark.engine, pytest.mark.opensearch]

APP_USER = "sparsedoc-app"
INDEX = "sparsedoc-compose"


@dataclass
class SecuredStack:
    """The running stack, the CA bundle that signed its certificate, and the two passwords."""

    stack: ComposeStack
    ca_file: str
    admin_password: str = field(repr=False)
    app_password: str = field(repr=False)

    @property
    def url(self) -> str:
        return self.stack.url


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sparsedoc.cli.main", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def secured_stack(container_base: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredStack]:
    passwords = {"OPENSEARCH_INITIAL_ADMIN_PASSWORD": new_password(), "SPARSEDOC_OPENSEARCH_PASSWORD": new_password()}
    folder = tmp_path_factory.mktemp("compose-secure") / "security"
    made = _cli("opensearch", "security-config", str(folder), "--version", SECURED_VERSION, "--app-user", APP_USER,
                env=passwords)
    assert made.returncode == 0, made.stderr[-2000:]
    if os.geteuid() == 0:  # the container's user (uid 1000) reads the key, as the compose file says
        for path in (folder, *folder.rglob("*")):
            os.chown(path, 1000, 1000)
    stack = ComposeStack(("docker-compose.yml", "docker-compose.secure-local.yml"),
                         opensearch_image(SECURED_VERSION, container_base), free_port(),
                         env={**passwords, "SPARSEDOC_OPENSEARCH_SECURITY": str(folder)}, scheme="https")
    try:
        stack.compose("up", "-d", "--wait", "--wait-timeout", "300")
        yield SecuredStack(stack, made.stdout.strip(), *passwords.values())
    finally:
        stack.compose("down", "-v", "--remove-orphans")


def test_secured_stack_serves_tls_on_host_network(secured_stack: SecuredStack) -> None:
    client = open_client(secured_stack.url, http_auth=("admin", secured_stack.admin_password),
                         ca_certs=secured_stack.ca_file)
    try:
        assert client.info()["version"]["number"] == SECURED_VERSION
        plugins = {row["component"] for row in client.cat.plugins(format="json")}
        assert {"opensearch-security", "opensearch-neural-search"} <= plugins
        who = client.transport.perform_request("GET", "/_plugins/_security/authinfo")
        (node,) = client.nodes.info(metric="settings")["nodes"].values()
    finally:
        client.close()
    assert (who["user_name"], who["roles"]) == ("admin", ["all_access"])  # security-config's users
    settings = node["settings"]
    assert settings["network"]["host"] == "127.0.0.1"
    assert settings["plugins"]["ml_commons"]["native_memory_threshold"] == "99"  # from the compose file
    inspected = secured_stack.stack.inspect()
    assert inspected["State"]["Health"]["Status"] == "healthy"  # the TLS healthcheck, as admin
    assert inspected["HostConfig"]["NetworkMode"] == "host"
    assert list(inspected["NetworkSettings"]["Networks"]) == ["host"]  # no address of its own
    assert not inspected["HostConfig"]["PortBindings"]
    assert secured_stack.stack.leftovers()["network"] == []


def test_app_user_ingests_and_searches_neural_sparse_over_tls(secured_stack: SecuredStack) -> None:
    documents = [EncodedDocument("a", "wing flutter", SparseVector({"wing": 2.0, "flutter": 1.0})),
                 EncodedDocument("b", "wing", SparseVector({"wing": 0.5})),
                 EncodedDocument("c", "boundary layer", SparseVector({"boundary": 3.0, "layer": 1.0}))]
    auth = (APP_USER, secured_stack.app_password)
    backend = OpenSearchBackend(secured_stack.url, INDEX, http_auth=auth, ca_certs=secured_stack.ca_file)
    try:
        backend.create_index(overwrite=True)
        report = backend.index(documents)
        assert (report.indexed, report.failures) == (3, [])
        assert backend.query_mode == "neural_sparse"
        hits = backend.search_sparse(SparseVector({"wing": 1.5, "flutter": 0.7}), k=3).hits
        assert [hit.doc_id for hit in hits] == ["a", "b"]
        assert hits[0].score == pytest.approx(2.0 * 1.5 + 1.0 * 0.7, rel=2 ** -8)
    finally:
        backend.close()
    other = OpenSearchBackend(secured_stack.url, "other-index", http_auth=auth, ca_certs=secured_stack.ca_file)
    with pytest.raises(BackendError, match="403"):  # the role covers sparsedoc* only
        other.create_index()


def test_cli_searches_and_a_wrong_password_is_one_line_401(secured_stack: SecuredStack) -> None:
    command = ("search", "wing", "--bm25", "-k", "3", "--index", INDEX, "--backend", "opensearch",
               "--url", secured_stack.url, "--user", APP_USER, "--ca-certs", secured_stack.ca_file)
    right = _cli(*command, env={"SPARSEDOC_OPENSEARCH_PASSWORD": secured_stack.app_password})
    assert right.returncode == 0, right.stderr[-2000:]
    assert "rank" in right.stdout
    wrong_password = "Wrong-Passw0rd-123!"
    wrong = _cli(*command, env={"SPARSEDOC_OPENSEARCH_PASSWORD": wrong_password})
    assert wrong.returncode == 1
    (error,) = [line for line in wrong.stderr.splitlines() if line.startswith("error:")]
    assert f"OpenSearch at {secured_stack.url} refused the credentials (HTTP 401)" in error
    for secret in (secured_stack.app_password, wrong_password):
        assert secret not in right.stdout + right.stderr + wrong.stdout + wrong.stderr


def _command_lines() -> dict[int, str]:
    """Every process's command line on this machine (containers' processes included)."""
    lines = {}
    for entry in Path("/proc").iterdir():
        try:
            lines[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (ValueError, OSError):  # not a process, or one that just ended
            continue
    return lines


def test_no_password_on_a_command_line_or_in_the_logs(secured_stack: SecuredStack) -> None:
    inspected = secured_stack.stack.inspect()
    command_lines = _command_lines()
    assert "org.opensearch.bootstrap.OpenSearch" in command_lines[inspected["State"]["Pid"]]
    config = inspected["Config"]
    command_lines[0] = " ".join([*config["Entrypoint"], *(config["Cmd"] or []), *config["Healthcheck"]["Test"]])
    logs = subprocess.run(["docker", "logs", inspected["Id"]], capture_output=True, text=True, check=True)
    for secret in (secured_stack.admin_password, secured_stack.app_password):
        assert not [pid for pid, line in command_lines.items() if secret in line]
        assert secret not in logs.stdout + logs.stderr
        assert not [str(path) for path in Path(secured_stack.ca_file).parent.rglob("*")
                    if path.is_file() and secret.encode() in path.read_bytes()]  # bcrypt hashes only


def test_down_removes_containers_networks_and_volumes(secured_stack: SecuredStack) -> None:
    assert secured_stack.stack.leftovers()["volume"]  # the compose file's data volume, before
    secured_stack.stack.compose("down", "-v", "--remove-orphans")
    assert secured_stack.stack.leftovers() == {"container": [], "network": [], "volume": []}
