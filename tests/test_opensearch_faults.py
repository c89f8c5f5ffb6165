"""Faults on a real OpenSearch node we own: killed mid-ingest (the error says what was written), restarted, resumed."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from conftest import FAST_START, engine_unavailable, free_port

from sparsedoc.encoder.errors import PartialWriteError
from sparsedoc.encoder.sparse_vector import SparseVector
from sparsedoc.ingest.pipeline import index_encoded
from sparsedoc.ingest.vectors_file import append_encoded
from sparsedoc.plugin.base import EncodedDocument
from sparsedoc.plugin.opensearch.backend import OpenSearchBackend

pytestmark = [pytest.mark.engine, pytest.mark.opensearch]

N_DOCS = 3000
BATCH = 500  # documents per index_encoded batch


def _documents() -> list[EncodedDocument]:
    return [EncodedDocument(f"d{i:05d}", f"text {i}", SparseVector({f"t{i % 97}": 1.0 + i % 5, "all": 0.5}))
            for i in range(N_DOCS)]


def test_kill_mid_ingest_then_restart_resumes_without_duplicates(tmp_path: Path) -> None:
    from sparsedoc.plugin.opensearch.node.local import LocalNodeError, LocalOpenSearchNode

    node = LocalOpenSearchNode(port=free_port(), data_dir=tmp_path / "data", java_opts=FAST_START)
    try:
        url = node.start()
    except LocalNodeError as exc:
        engine_unavailable(f"OpenSearch node did not start: {exc}")
    try:
        backend = OpenSearchBackend(url, "faults", chunk_size=50, timeout=5, refresh_interval="100ms")
        backend.create_index()
        vectors = tmp_path / "vectors.jsonl"
        append_encoded(vectors, _documents())
        outcome: dict[str, BaseException] = {}

        def ingest() -> None:
            try:
                index_encoded(vectors, backend, batch_size=BATCH)
            except BaseException as exc:  # noqa: BLE001 - the thread reports what stopped it
                outcome["error"] = exc

        writer = threading.Thread(target=ingest)
        writer.start()
        deadline = time.monotonic() + 60
        while backend.count() < BATCH + 200 and time.monotonic() < deadline:  # into the second batch
            time.sleep(0.05)
        os.kill(node.read_pid(), signal.SIGKILL)
        writer.join(timeout=120)
        error = outcome.get("error")
        assert isinstance(error, PartialWriteError), outcome
        message = str(error)
        assert "\n" not in message and "cannot reach OpenSearch" in message
        assert message.endswith(f"; {error.written} documents were written before the failure; rerun the same "
                                "command to resume (ids already indexed are skipped)")

        node.start()
        survived = backend.count()
        assert BATCH <= error.written <= survived < N_DOCS  # acknowledged writes survive the kill
        report = index_encoded(vectors, backend, batch_size=BATCH)
        assert report.indexed + report.skipped == N_DOCS and report.failures == []
        assert report.skipped >= survived
        assert backend.count() == N_DOCS
        assert len(backend.search_sparse(SparseVector({"all": 1.0}), k=N_DOCS).hits) == N_DOCS
    finally:
        node.stop()
