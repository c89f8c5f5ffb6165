"""Embedded Lucene hybrid search runs its two searches at once and gives what running them one by one gives."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sparse_corpus import N_DOCS, WORDS, random_corpus, random_queries

from sparsedoc.encoder.sparse_vector import SparseVector
from sparsedoc.plugin.base import Hit, SearchResult
from sparsedoc.plugin.fusion import Fusion, fuse
from sparsedoc.plugin.lucene.jvm import java_class

pytestmark = pytest.mark.engine

WORKER_PREFIX = "sparsedoc-lucene-hybrid"
# Windows holding every document: each sub-search returns all it matches, so the separate searches
# below see the same lists (documents are indexed in id order, so Lucene's ties by document
# number are the contract's ties by id, and RRF's positions agree too).
FUSIONS = [Fusion("min_max", 0.3, window=N_DOCS), Fusion("min_max", 0.8, window=N_DOCS), Fusion("rrf", window=N_DOCS)]


@pytest.fixture(scope="module")
def backend(lucene_backend_cls: type, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    engine = lucene_backend_cls(tmp_path_factory.mktemp("lucene-hybrid") / "idx")
    assert not engine.index(random_corpus()).failures
    yield engine
    engine.close()


def _cases(count: int, seed: int) -> list[tuple[str, SparseVector]]:
    """Texts of 1-4 words (one matching nothing) with random sparse queries, and one empty sparse query."""
    rng = random.Random(seed)
    texts = [" ".join(rng.sample(WORDS, rng.randint(1, 4))) for _ in range(count - 2)] + ["zeppelin", "nothing"]
    vectors = random_queries(count=count - 1, seed=seed) + [SparseVector()]
    return list(zip(texts, vectors, strict=True))


def _non_daemon_threads() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if not thread.daemon}


@pytest.mark.parametrize("fusion", FUSIONS, ids=lambda f: f.describe().replace(" ", "-"))
@pytest.mark.parametrize("k", [10, N_DOCS])
def test_hybrid_equals_fusing_the_two_searches_run_alone(backend, fusion: Fusion, k: int) -> None:
    for text, vector in _cases(12, seed=5):
        bm25, sparse = backend.search_bm25(text, k=N_DOCS), backend.search_sparse(vector, k=N_DOCS)
        fused = fuse([[(h.doc_id, h.score) for h in result.hits] for result in (bm25, sparse)], fusion)[:k]
        hybrid = backend.search_hybrid(text, vector, k=k, fusion=fusion)
        assert hybrid.hits == tuple(Hit(doc_id, score, rank) for rank, (doc_id, score) in enumerate(fused, start=1))
        assert hybrid.dropped_tokens == bm25.dropped_tokens + sparse.dropped_tokens


def test_hybrid_searches_from_several_threads_match_sequential_ones(backend) -> None:
    cases = [(text, vector, fusion) for text, vector in _cases(20, seed=9) for fusion in FUSIONS[::2]]
    sequential = [backend.search_hybrid(text, vector, k=10, fusion=fusion) for text, vector, fusion in cases]
    threads, start = 4, threading.Barrier(4)
    found: dict[int, list[SearchResult]] = {}

    def search(slot: int) -> None:
        from jnius import detach

        try:
            start.wait()
            found[slot] = [backend.search_hybrid(text, vector, k=10, fusion=fusion) for text, vector, fusion in
                           cases[slot:] + cases[:slot]]  # each thread starts elsewhere in the list
        finally:
            detach()  # pyjnius attached this thread on its first Java call

    workers = [threading.Thread(target=search, args=(slot,)) for slot in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for slot in range(threads):
        expected = sequential[slot:] + sequential[:slot]
        assert [(r.hits, r.dropped_tokens) for r in found[slot]] == [(r.hits, r.dropped_tokens) for r in expected]


def test_the_worker_thread_starts_with_hybrid_search_and_stops_at_close(lucene_backend_cls: type,
                                                                          tmp_path: Path) -> None:
    before = _non_daemon_threads()
    engine = lucene_backend_cls(tmp_path / "idx")
    engine.index(random_corpus()[:50])
    vector = random_queries(count=1, seed=3)[0]
    engine.search_bm25("wing lift", k=5)
    engine.search_sparse(vector, k=5)
    assert _non_daemon_threads() <= before  # single searches start no thread
    first = engine.search_hybrid("wing lift", vector, k=5)
    started = _non_daemon_threads() - before
    assert [thread.name.startswith(WORKER_PREFIX) for thread in started] == [True]
    assert engine.search_hybrid("wing lift", vector, k=5).hits == first.hits
    assert _non_daemon_threads() - before == started  # one worker, kept between searches

    engine.close()
    assert _non_daemon_threads() <= before and not any(thread.is_alive() for thread in started)
    engine.close()  # idempotent
    assert engine.search_hybrid("wing lift", vector, k=5).hits == first.hits  # reopens, with a new worker
    engine.close()
    assert _non_daemon_threads() <= before


def test_the_two_searchers_have_their_own_method_objects(backend) -> None:
    """pyjnius stores the instance in a proxy class's method object on each call: the searchers that hybrid
    search calls from two threads at once must be instances of two proxy classes (``java_class``)."""
    backend.search_hybrid("wing", random_queries(count=1)[0])
    shared = java_class("org.apache.lucene.search.IndexSearcher")
    public_only = java_class("org.apache.lucene.search.IndexSearcher", public_only=True)
    assert public_only is not shared and public_only.search is not shared.search
    assert public_only is java_class("org.apache.lucene.search.IndexSearcher", public_only=True)
    assert (type(backend._bm25_searcher), type(backend._impact_searcher)) == (shared, public_only)
