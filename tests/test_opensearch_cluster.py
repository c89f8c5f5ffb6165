"""Three real OpenSearch nodes: one is killed (SIGKILL) mid-ingest and restarted.

The index has 3 primaries and 1 replica, so every shard keeps a copy while one node is down:
the ingest finishes, the count equals the corpus (ids are the documents' ids, so no
duplicates), and searches return every hit. An index without replicas loses shards with the
node, and the backend then reports the failed shards instead of returning fewer hits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import engine_unavailable, free_port
from opensearch_nodes import FAST_START

from sparsedoc.encoder.errors import BackendError, IndexingError, LocalNodeError
from sparsedoc.encoder.sparse_vector import SparseVector
from sparsedoc.plugin.base import EncodedDocument
from sparsedoc.plugin.opensearch.node.cluster import LocalOpenSearchCluster
from sparsedoc.plugin.opensearch.backend import OpenSearchBackend

pytestmark = [pytest.mark.engine, pytest.mark.opensearch]

N_DOCS = 4000


def _documents() -> list[EncodedDocument]:
    return [EncodedDocument(f"d{i:05d}", f"text {i}", SparseVector({f"t{i % 97}": 1.0 + i % 5, "all": 0.5}))
            for i in range(N_DOCS)]


def _three_ports() -> list[int]:
    ports: list[int] = []
    while len(ports) < 3:
        port = free_port()
        if all(abs(port - p) not in (0, 100) for p in ports):
            ports.append(port)
    return ports


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalOpenSearchCluster]:
    nodes = LocalOpenSearchCluster(_three_ports(), tmp_path_factory.mktemp("cluster"), heap="512m",
                                   java_opts=FAST_START, configure_ml=False)
    try:
        nodes.start(timeout=300)
    except LocalNodeError as exc:
        engine_unavailable(f"3-node OpenSearch cluster did not start: {exc}")
    try:
        yield nodes
    finally:
        nodes.stop()


def _wait_green(backend: OpenSearchBackend, index: str) -> None:
    """Green with all three nodes joined and no shard moving: green alone can come before a late node
    joins, and the rebalancing towards it then moves shards under the caller (a CI run saw two nodes)."""
    health = backend.client.transport.perform_request(
        "GET", f"/_cluster/health/{index}",
        params={"wait_for_status": "green", "wait_for_nodes": "3", "wait_for_no_relocating_shards": "true",
                "timeout": "120s", "request_timeout": 130})
    assert health["status"] == "green" and health["number_of_nodes"] == 3 and not health["relocating_shards"], health


def test_kill_a_node_mid_ingest_then_restart(cluster: LocalOpenSearchCluster) -> None:
    backend = OpenSearchBackend(cluster.url, "cluster-ingest", shards=3, replicas=1, chunk_size=100, timeout=60,
                                refresh_interval="200ms")
    backend.create_index(overwrite=True)
    _wait_green(backend, "cluster-ingest")
    assert {s["node"] for s in backend.client.cat.shards(index="cluster-ingest", format="json")} == {
        n.node_name for n in cluster.nodes}
    outcome: dict[str, object] = {}

    def ingest() -> None:
        try:
            outcome["report"] = backend.index(_documents())
        except (BackendError, IndexingError) as exc:
            outcome["error"] = exc

    writer = threading.Thread(target=ingest)
    writer.start()
    deadline = time.monotonic() + 120
    while backend.count() < 400 and time.monotonic() < deadline:
        time.sleep(0.05)
    victim = cluster.nodes[2]
    victim.kill()
    assert not victim.is_running()
    writer.join(timeout=300)
    assert not writer.is_alive()
    if "error" in outcome:  # a write in flight to the dead node may fail: resuming completes the ingest
        report = backend.index(_documents())
        assert report.failures == []
    # While the node is down every shard still has a copy: searches are complete, never silently short.
    assert backend.count() == N_DOCS
    assert len(backend.search_sparse(SparseVector({"all": 1.0}), k=N_DOCS).hits) == N_DOCS
    victim.start(timeout=300)
    _wait_green(backend, "cluster-ingest")
    assert backend.count() == N_DOCS
    hits = backend.search_sparse(SparseVector({"all": 1.0}), k=N_DOCS).hits
    assert len(hits) == N_DOCS and len({h.doc_id for h in hits}) == N_DOCS
    again = backend.index(_documents()[:500])
    assert (again.indexed, again.skipped) == (0, 500)
    backend.delete_index()


def test_lost_shards_are_reported_not_silently_dropped(cluster: LocalOpenSearchCluster, tmp_path: Path) -> None:
    backend = OpenSearchBackend(cluster.url, "cluster-no-replica", shards=3, replicas=0)
    backend.create_index(overwrite=True)
    backend.index(_documents()[:300])
    _wait_green(backend, "cluster-no-replica")
    victim = cluster.nodes[1]
    victim.kill()
    try:
        with pytest.raises(BackendError) as caught:
            for _ in range(60):  # until the cluster notices the node is gone
                backend.search_sparse(SparseVector({"all": 1.0}), k=1000)
                time.sleep(0.5)
        message = str(caught.value)
        assert "shards failed" in message or "answered 503" in message, message
        assert "\n" not in message
    finally:
        victim.start(timeout=300)
        _wait_green(backend, "cluster-no-replica")
    assert len(backend.search_sparse(SparseVector({"all": 1.0}), k=1000).hits) == 300
    backend.delete_index()
