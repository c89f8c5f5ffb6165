"""Approximate sparse search on the embedded engine (two-phase, SEISMIC) against exact search.

The corpus is the benchmark generator's (Zipf token draws over the real bert vocabulary,
IDF-weighted queries), 3,000 documents, so frequent tokens have long posting lists as in
real SPLADE vectors. Bounds on the mean recall@10 of the approximate top 10 against the
exact top 10: two-phase >= 0.85 (measured here 0.87; 0.975 on 100k documents, where phase
one's windows are fuller), SEISMIC >= 0.95 (measured 0.99).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import engine_unavailable

from sparsedoc.encoder.errors import BackendError, ConfigError
from sparsedoc.encoder.sparse_vector import SparseVector
from sparsedoc.ingest.synthetic import SyntheticConfig, SyntheticCorpus, load_vocabulary
from sparsedoc.plugin.approximate import Seismic, TwoPhase, approximate_settings, split_query


RECALL_BOUND = {"two-phase": 0.85, "seismic": 0.95}
N_DOCS = 3000


@pytest.fixture(scope="module")
def corpus(minilm_dir: Path) -> SyntheticCorpus:
    return SyntheticCorpus(load_vocabulary(minilm_dir / "vocab.txt"),
                           SyntheticConfig(num_documents=N_DOCS, num_queries=60, seed=5))


@pytest.fixture(scope="module")
def index_dir(lucene_backend_cls: type, corpus: SyntheticCorpus, tmp_path_factory: pytest.TempPathFactory,
              ) -> Iterator[Path]:
    """One index written with SEISMIC on (so it holds the SEISMIC vectors too)."""
    _require_seismic()
    path = tmp_path_factory.mktemp("approximate") / "idx"
    with lucene_backend_cls(path, approximate=Seismic(n_postings=300, threads=1)) as backend:
        report = backend.index(list(corpus.documents()))
        assert (report.indexed, report.failures) == (N_DOCS, [])
        backend.force_merge()
    yield path


def _require_seismic() -> None:
    """Skip without ``pyseismic-lsr`` (extra ``seismic``) locally; fail in CI."""
    try:
        import seismic  # noqa: F401
    except ImportError as exc:
        engine_unavailable(f"pyseismic-lsr missing: {exc}")


def _recall(exact: object, approximate: object, queries: list[SparseVector]) -> float:
    total = 0.0
    for query in queries:
        truth = set(exact.search_sparse(query, 10).doc_ids)
        total += len(truth & set(approximate.search_sparse(query, 10).doc_ids)) / len(truth)
    return total / len(queries)


@pytest.mark.engine
@pytest.mark.parametrize("method", ["two-phase", "seismic"])
def test_recall_against_exact(lucene_backend_cls: type, index_dir: Path, corpus: SyntheticCorpus, method: str) -> None:
    settings = TwoPhase() if method == "two-phase" else Seismic(n_postings=300, threads=1)
    queries = [q.vector for q in corpus.queries()]
    with lucene_backend_cls(index_dir) as exact, lucene_backend_cls(index_dir, approximate=settings) as approx:
        assert _recall(exact, approx, queries) >= RECALL_BOUND[method]
        for query in queries[:10]:  # every hit carries its exact dot product
            scores = exact.search_sparse(query, N_DOCS).scores()
            for hit in approx.search_sparse(query, 10).hits:
                assert hit.score == pytest.approx(scores[hit.doc_id], rel=1e-2 if isinstance(settings, Seismic) else 1e-5)


@pytest.mark.engine
def test_two_phase_equals_exact_when_every_token_is_high(lucene_backend_cls: type, index_dir: Path,
                                                          corpus: SyntheticCorpus) -> None:
    with lucene_backend_cls(index_dir) as exact, lucene_backend_cls(index_dir, approximate=TwoPhase(1e-9)) as approx:
        for query in [q.vector for q in corpus.queries()[:10]]:
            assert approx.search_sparse(query, 10).hits == exact.search_sparse(query, 10).hits


@pytest.mark.engine
def test_two_phase_finds_documents_missing_the_high_tokens(lucene_backend_cls: type, index_dir: Path) -> None:
    # "zzzrare" is in no document: phase one finds nothing, so the rest of the query decides (exactly)
    query = SparseVector({"zzzrare": 20.0, "the": 0.5, "of": 0.4})
    with lucene_backend_cls(index_dir) as exact, lucene_backend_cls(index_dir, approximate=TwoPhase()) as approx:
        assert approx.search_sparse(query, 10).hits == exact.search_sparse(query, 10).hits
        assert len(approx.search_sparse(query, 10).hits) == 10


@pytest.mark.engine
def test_seismic_on_an_index_written_without_it_is_refused(lucene_backend_cls: type, corpus: SyntheticCorpus,
                                                           tmp_path: Path) -> None:
    _require_seismic()
    with lucene_backend_cls(tmp_path / "plain") as backend:
        backend.index(list(corpus.documents())[:50])
    with lucene_backend_cls(tmp_path / "plain", approximate=Seismic()) as backend:
        with pytest.raises(BackendError, match="no SEISMIC vectors"):
            backend.search_sparse(SparseVector({"the": 1.0}))


def test_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="prune_ratio"):
        TwoPhase(prune_ratio=0.0)
    with pytest.raises(ConfigError, match="expansion_rate"):
        TwoPhase(expansion_rate=0.5)
    with pytest.raises(ConfigError, match="heap_factor"):
        Seismic(heap_factor=1.5)
    with pytest.raises(ConfigError, match="one of .*two-phase.*seismic"):
        approximate_settings("hnsw")
    assert TwoPhase(expansion_rate=5.0).window(10) == 50
    assert TwoPhase(max_window_size=20).window(100) == 100


def test_split_query_by_max_ratio() -> None:
    high, low = split_query(SparseVector({"rare": 10.0, "mid": 4.0, "the": 0.3}), 0.4)
    assert high.to_dict() == {"rare": 10.0, "mid": 4.0}
    assert low.to_dict() == {"the": 0.3}


@pytest.mark.engine
def test_two_phase_and_exact_on_a_bp_reordered_copy(lucene_backend_cls: type, index_dir: Path, corpus: SyntheticCorpus,
                                                    tmp_path: Path) -> None:
    """BP reordering renumbers documents only: exact and two-phase answer exactly as on the plain index."""
    import shutil

    from sparsedoc.plugin.lucene.reorder import Reordering

    copy = tmp_path / "bp"
    shutil.copytree(index_dir, copy)
    with lucene_backend_cls(copy) as backend:
        assert backend.force_merge(reorder=Reordering()) > 0.0
    queries = [q.vector for q in corpus.queries()]
    for settings in (None, TwoPhase()):
        with lucene_backend_cls(index_dir, approximate=settings) as plain, \
                lucene_backend_cls(copy, approximate=settings) as ordered:
            for query in queries:
                assert ordered.search_sparse(query, 10).hits == plain.search_sparse(query, 10).hits
