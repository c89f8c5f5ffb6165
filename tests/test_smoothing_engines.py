"""Smoothing on real engines: neighbours from an OpenSearch k-NN index, and the build record both engines keep."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from sparse_corpus import random_corpus, random_queries

from sparsedoc.encoder.errors import ConfigError
from sparsedoc.encoder.sparse_vector import SparseVector
from sparsedoc.ingest.index_build import SmoothingPlan, build_record, claim_index
from sparsedoc.ingest.neighbours import exact_neighbours, searcher_finder
from sparsedoc.ingest.smoothing import Smoothing
from sparsedoc.plugin.base import EncodedDocument
from sparsedoc.plugin.fusion import Fusion
from sparsedoc.plugin.opensearch.backend import OpenSearchBackend
from sparsedoc.plugin.opensearch.knn import OpenSearchKnn

pytestmark = [pytest.mark.engine]


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.mark.opensearch
def test_opensearch_knn_neighbours_match_exact(opensearch_url: str) -> None:
    rng = np.random.default_rng(7)
    vectors = _unit(rng.normal(size=(60, 8)).astype(np.float32))
    ids = [f"d{i}" for i in range(60)]
    knn = OpenSearchKnn(opensearch_url, f"knn-{uuid.uuid4().hex[:8]}", 8, batch_size=25)
    try:
        knn.create()
        knn.add(ids, vectors)
        rows = np.arange(60)
        exact = exact_neighbours(vectors, vectors, 3, exclude=rows)
        found = searcher_finder(knn, ids)(vectors, vectors, 3, exclude=rows)
        overlap = np.mean([len(set(a) & set(e)) / 3 for a, e in zip(found.rows, exact.rows)])
        assert overlap >= 0.95
        assert not (found.rows == rows[:, None]).any()  # never its own neighbour
        same = found.rows == exact.rows
        assert np.allclose(found.similarities[same], exact.similarities[same], atol=1e-4)
    finally:
        knn.delete()
        knn.close()


def _docs() -> list[EncodedDocument]:
    return [EncodedDocument(str(i), f"doc {i}", SparseVector({"wing": 1.0 + i})) for i in range(3)]


def _check_build_record(backend: object) -> None:
    plan = SmoothingPlan(Smoothing(neighbours=3), Path("all-MiniLM-L6-v2"), Path("unused"))
    record = build_record(plan, model="splade-tiny")
    claim_index(backend, record)  # type: ignore[arg-type]
    backend.index(_docs())  # type: ignore[attr-defined]
    assert backend.build_record() == record  # type: ignore[attr-defined]
    claim_index(backend, record)  # type: ignore[arg-type]  # the same build may add documents
    with pytest.raises(ConfigError, match="built with smoothing additive k=3"):
        claim_index(backend, build_record(None, model="splade-tiny"))  # type: ignore[arg-type]
    claim_index(backend, build_record(None, model="splade-tiny"), overwrite=True)  # type: ignore[arg-type]
    assert backend.build_record()["smoothing"] is None  # type: ignore[attr-defined]


def test_lucene_index_keeps_its_build_record(lucene_backend_cls: type, tmp_path: Path) -> None:
    with lucene_backend_cls(tmp_path / "idx") as backend:
        _check_build_record(backend)


@contextmanager
def _fresh_opensearch_index(url: str, prefix: str) -> Iterator[OpenSearchBackend]:
    """A backend on a new, uniquely named index, deleted afterwards."""
    backend = OpenSearchBackend(url, f"{prefix}-{uuid.uuid4().hex[:8]}")
    try:
        yield backend
    finally:
        backend.delete_index()
        backend.close()


@pytest.mark.opensearch
def test_opensearch_index_keeps_its_build_record(opensearch_url: str) -> None:
    with _fresh_opensearch_index(opensearch_url, "build") as backend:
        _check_build_record(backend)


def _check_default_fusion(backend: object) -> None:
    """Hybrid search without a sparse weight uses 0.4 on an unsmoothed index, 0.5 on a smoothed one."""
    claim_index(backend, build_record(None, model="splade-tiny"))  # type: ignore[arg-type]
    backend.index(random_corpus())  # type: ignore[attr-defined]
    query = random_queries(count=1, seed=4)[0]

    def scores(fusion: Fusion | None = None) -> dict[str, float]:
        return backend.search_hybrid("wing lift drag", query, k=20, fusion=fusion).scores()  # type: ignore[attr-defined]

    at_04, at_05 = scores(Fusion(sparse_weight=0.4)), scores(Fusion(sparse_weight=0.5))
    assert at_04 != at_05
    assert scores() == at_04 and scores(Fusion(window=100)) == at_04
    assert backend.hybrid_fusion().describe() == "min_max sparse 0.4"  # type: ignore[attr-defined]
    plan = SmoothingPlan(Smoothing(neighbours=3), Path("all-MiniLM-L6-v2"), Path("unused"))
    backend.record_build(build_record(plan, model="splade-tiny"))  # type: ignore[attr-defined]
    assert scores() == at_05 and scores(Fusion(window=100)) == at_05
    assert backend.hybrid_fusion().describe() == "min_max sparse 0.5"  # type: ignore[attr-defined]
    assert scores(Fusion(sparse_weight=0.4)) == at_04  # a given weight wins


def test_lucene_hybrid_default_weight_follows_the_build_record(lucene_backend_cls: type, tmp_path: Path) -> None:
    with lucene_backend_cls(tmp_path / "idx") as backend:
        _check_default_fusion(backend)


@pytest.mark.opensearch
def test_opensearch_hybrid_default_weight_follows_the_build_record(opensearch_url: str) -> None:
    with _fresh_opensearch_index(opensearch_url, "fusion") as backend:
        _check_default_fusion(backend)


def test_lucene_hybrid_reads_the_build_record_once(lucene_backend_cls: type, tmp_path: Path) -> None:
    """A search does not pay for reading the record: it is read once per backend and after its own writes."""
    with lucene_backend_cls(tmp_path / "idx") as backend:
        claim_index(backend, build_record(None, model="splade-tiny"))
        backend.index(random_corpus())
        query = random_queries(count=1, seed=4)[0]
        before = backend.search_hybrid("wing lift drag", query, k=20).scores()
        (tmp_path / "idx" / "sparsedoc-build.json").write_text("not json")  # behind the backend's back
        assert backend.search_hybrid("wing lift drag", query, k=20).scores() == before
        plan = SmoothingPlan(Smoothing(neighbours=3), Path("all-MiniLM-L6-v2"), Path("unused"))
        backend.record_build(build_record(plan, model="splade-tiny"))
        assert backend.hybrid_fusion().describe() == "min_max sparse 0.5"
