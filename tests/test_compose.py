"""docker/docker-compose.no-security.yml brought up with docker/docker-compose.local.yml on the
locally built OpenSearch image (host network, 127.0.0.1), used through OpenSearchBackend, and
torn down with its volume."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest
from conftest import free_port
from opensearch_containers import ComposeStack, opensearch_image
from opensearch_nodes import OPENSEARCH_VERSIONS

from sparsedoc.encoder.sparse_vector import SparseVector
from sparsedoc.plugin.base import EncodedDocument
from sparsedoc.plugin.opensearch.backend import OpenSearchBackend

pytestmark = [pytest.mark.engine, pytest.mark.opensearch]


@pytest.fixture(scope="module")
def stack(container_base: str) -> Iterator[ComposeStack]:
    stack = ComposeStack(("docker-compose.no-security.yml", "docker-compose.local.yml"),
                         opensearch_image(OPENSEARCH_VERSIONS[0], container_base), free_port())
    try:
        stack.compose("up", "-d", "--wait", "--wait-timeout", "300")
        yield stack
    finally:
        stack.compose("down", "-v", "--remove-orphans")


def _get(url: str) -> dict:
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=30) as answer:
        return json.loads(answer.read())


def test_stack_runs_on_host_network_with_compose_settings(stack: ComposeStack) -> None:
    assert _get(f"{stack.url}/_cluster/health")["status"] in ("green", "yellow")
    (node,) = _get(f"{stack.url}/_nodes/settings")["nodes"].values()
    settings = node["settings"]
    assert settings["network"]["host"] == "127.0.0.1"
    assert settings["discovery"]["type"] == "single-node"  # from the compose file's environment
    assert settings["plugins"]["ml_commons"]["native_memory_threshold"] == "99"
    inspected = stack.inspect()
    assert inspected["HostConfig"]["NetworkMode"] == "host"
    assert list(inspected["NetworkSettings"]["Networks"]) == ["host"]  # no address of its own
    assert stack.leftovers()["network"] == []  # compose made no network


def test_stack_indexes_and_searches(stack: ComposeStack) -> None:
    documents = [EncodedDocument("a", "wing flutter", SparseVector({"wing": 2.0, "flutter": 1.0})),
                 EncodedDocument("b", "wing", SparseVector({"wing": 0.5})),
                 EncodedDocument("c", "boundary layer", SparseVector({"boundary": 3.0, "layer": 1.0}))]
    backend = OpenSearchBackend(stack.url, "sparsedoc-compose")
    try:
        backend.create_index(overwrite=True)
        report = backend.index(documents)
        assert (report.indexed, report.failures) == (3, [])
        hits = backend.search_sparse(SparseVector({"wing": 1.5, "flutter": 0.7}), k=3).hits
        assert [hit.doc_id for hit in hits] == ["a", "b"]
        assert hits[0].score == pytest.approx(2.0 * 1.5 + 1.0 * 0.7, rel=2 ** -8)
    finally:
        backend.close()


def test_down_removes_containers_networks_and_volumes(stack: ComposeStack) -> None:
    assert stack.leftovers()["volume"]  # the compose file's data volume, before
    stack.compose("down", "-v", "--remove-orphans")
    assert stack.leftovers() == {"container": [], "network": [], "volume": []}
