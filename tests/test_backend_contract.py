"""The ``Backend`` contract (``sparsedoc.plugin.base``), checked identically on every engine."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sparsedoc.encoder.errors import BackendError, ConfigError
from sparsedoc.encoder.sparse_vector import SparseVector
from sparsedoc.plugin.base import DUPLICATE_IN_CALL, MAX_K, Backend, EncodedDocument, Hit, SearchResult

pytestmark = pytest.mark.engine

ENGINES = ["lucene", pytest.param("opensearch", marks=pytest.mark.opensearch)]
Factory = Callable[[], Backend]


@pytest.fixture(params=ENGINES)
def new_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    """Make backends on a fresh, not yet created index of the engine under test."""
    made: list[Backend] = []

    def make() -> Backend:
        if request.param == "lucene":
            backend = request.getfixturevalue("lucene_backend_cls")(tmp_path / f"idx{len(made)}")
        else:
            from sparsedoc.plugin.opensearch.backend import OpenSearchBackend

            url = request.getfixturevalue("opensearch_url")
            backend = OpenSearchBackend(url, f"contract-{uuid.uuid4().hex[:10]}")
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.delete_index()
        backend.close()


def _doc(doc_id: str, text: str = "wing lift", **weights: float) -> EncodedDocument:
    return EncodedDocument(doc_id, text, SparseVector(weights or {"wing": 1.0}))


def test_is_a_backend_and_returns_frozen_results(new_backend: Factory) -> None:
    backend = new_backend()
    assert isinstance(backend, Backend)
    backend.index([_doc("a"), _doc("b", "drag", drag=1.0)])
    for result in (backend.search_sparse(SparseVector({"wing": 1.0})), backend.search_bm25("wing"),
                   backend.search_hybrid("wing", SparseVector({"wing": 1.0}))):
        assert isinstance(result, SearchResult) and isinstance(result.hits, tuple)
        assert result.doc_ids == ["a"] and all(isinstance(h, Hit) for h in result.hits)
        assert result.took_ms >= 0.0
        with pytest.raises(dataclasses.FrozenInstanceError):
            result.took_ms = 1.0  # type: ignore[misc]
    batch = backend.batch_search_bm25({"q1": "wing", "q2": "drag"}, k=1)
    assert {q: r.doc_ids for q, r in batch.items()} == {"q1": ["a"], "q2": ["b"]}


def test_ties_are_ordered_by_doc_id_also_across_the_cut(new_backend: Factory) -> None:
    backend = new_backend()
    tied = [_doc(f"d{i}", "tie word", tie=1.0) for i in reversed(range(10))]  # written d9 first
    backend.index([*tied, _doc("top", "tie tie word", tie=2.0)])
    for result in (backend.search_sparse(SparseVector({"tie": 1.0}), k=3), backend.search_bm25("tie", k=3)):
        assert result.doc_ids == ["top", "d0", "d1"]
        assert [h.rank for h in result.hits] == [1, 2, 3]
    assert backend.search_sparse(SparseVector({"tie": 1.0}), k=11).doc_ids == ["top", *(f"d{i}" for i in range(10))]


@pytest.mark.parametrize("k", [0, -1, MAX_K + 1, 2.0, True, "3"])
def test_k_out_of_range_is_a_config_error_before_any_request(new_backend: Factory, k: object) -> None:
    backend = new_backend()  # no index: the engine would answer BackendError
    for search in (lambda: backend.search_sparse(SparseVector({"a": 1.0}), k),  # type: ignore[arg-type]
                   lambda: backend.search_bm25("a", k),  # type: ignore[arg-type]
                   lambda: backend.search_hybrid("a", SparseVector({"a": 1.0}), k)):  # type: ignore[arg-type]
        with pytest.raises(ConfigError, match="k must be an integer"):
            search()


def test_index_creates_a_missing_index_and_skips_present_ids(new_backend: Factory) -> None:
    backend = new_backend()
    assert backend.existing_ids(["a"]) == set()
    for call in (backend.count, lambda: backend.search_bm25("wing")):
        with pytest.raises(BackendError):
            call()
    first = backend.index([_doc("a"), _doc("b")])
    again = backend.index([_doc("b"), _doc("c")])
    assert (first.indexed, first.skipped, again.indexed, again.skipped) == (2, 0, 1, 1)
    assert backend.count() == 3 and backend.existing_ids(["a", "c", "x"]) == {"a", "c"}
    assert backend.search_sparse(SparseVector({"wing": 1.0}), k=5).doc_ids == ["a", "b", "c"]
    backend.create_index()  # an existing index is kept
    assert backend.count() == 3


def test_a_repeated_id_in_one_call_is_written_once_and_the_repeat_fails(new_backend: Factory) -> None:
    backend = new_backend()
    report = backend.index([_doc("007", "wing", wing=1.0), _doc("007", "drag", drag=1.0), _doc("8", "x", x=1.0)])
    assert (report.indexed, report.skipped) == (2, 0)
    assert [(f.doc_id, f.reason) for f in report.failures] == [("007", DUPLICATE_IN_CALL)]
    assert backend.search_sparse(SparseVector({"wing": 1.0})).doc_ids == ["007"]
    assert backend.search_sparse(SparseVector({"drag": 1.0})).doc_ids == []


def test_refused_documents_are_reported_not_raised_and_can_be_retried(new_backend: Factory) -> None:
    backend = new_backend()
    immense = EncodedDocument("immense", "wing", SparseVector({"y" * 40_000: 1.0}))  # over Lucene's term limit
    huge = EncodedDocument("huge", "wing", SparseVector({"wing": 1e39}))  # beyond float32 and the impact range
    report = backend.index([_doc("ok1"), immense, _doc("ok2"), huge])
    assert report.indexed == 2 and sorted(f.doc_id for f in report.failures) == ["huge", "immense"]
    assert all(f.reason and "\n" not in f.reason for f in report.failures)
    assert backend.count() == 2 and backend.existing_ids(["ok1", "immense", "huge"]) == {"ok1"}
    retry = backend.index([_doc("immense", wing=3.0), _doc("huge", wing=2.0), _doc("ok1")])
    assert (retry.indexed, retry.skipped, retry.failures) == (2, 1, [])
    assert backend.search_sparse(SparseVector({"wing": 1.0}), k=2).doc_ids == ["immense", "huge"]
