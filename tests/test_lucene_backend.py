"""The embedded Lucene backend against brute force and hand-computed BM25 (needs Java 21+)."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sparse_corpus import N_DOCS, ODD, VOCAB, random_corpus

from sparsedoc.encoder.errors import BackendError, ConfigError
from sparsedoc.encoder.sparse_vector import SparseVector
from sparsedoc.plugin.base import EncodedDocument, Hit
from sparsedoc.plugin.lucene.quantization import quantize_weight

pytestmark = pytest.mark.engine

SCALE = 100.0
@pytest.fixture(scope="session")
def corpus() -> list[EncodedDocument]:
    return random_corpus()


@pytest.fixture(scope="session")
def shared_index(lucene_backend_cls: type, corpus: list[EncodedDocument], tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """A 200-document index built once; tests using it must not write to it."""
    backend = lucene_backend_cls(tmp_path_factory.mktemp("lucene") / "idx", impact_scale=SCALE)
    backend.create_index()
    report = backend.index(corpus)
    assert (report.indexed, report.skipped, report.failures) == (N_DOCS, 0, [])
    yield backend
    backend.close()


def _brute_force(query: SparseVector, corpus: list[EncodedDocument]) -> dict[str, float]:
    """Dot products of the float32 query weights and the quantised document weights."""
    scores = {}
    for doc in corpus:
        total = sum(
            float(np.float32(w)) * quantize_weight(doc.vector[t], SCALE) for t, w in query.items() if t in doc.vector
        )
        if total > 0:
            scores[doc.doc_id] = total / SCALE
    return scores


def test_sparse_ranking_equals_brute_force(shared_index, corpus: list[EncodedDocument]) -> None:
    rng = random.Random(11)
    for _ in range(20):
        tokens = rng.sample(VOCAB, rng.randint(1, 15))
        query = SparseVector({t: rng.uniform(0.05, 5.0) for t in tokens})
        expected = _brute_force(query, corpus)
        hits = shared_index.search_sparse(query, k=N_DOCS).hits
        assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
        assert {h.doc_id for h in hits} == set(expected)
        tolerance = 1e-6 * max(expected.values(), default=1.0)  # float32 sums
        for hit in hits:
            assert hit.score == pytest.approx(expected[hit.doc_id], rel=1e-5, abs=tolerance)
        for before, after in zip(hits, hits[1:]):  # same order up to (float32) ties
            assert expected[before.doc_id] >= expected[after.doc_id] - 2 * tolerance


def test_top_k_and_everywhere_tokens(shared_index, corpus: list[EncodedDocument]) -> None:
    query = SparseVector({"every": 1.5})  # in every document: an IDF cut-off would drop it
    hits = shared_index.search_sparse(query, k=5).hits
    expected = sorted(_brute_force(query, corpus).items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    assert [h.doc_id for h in hits] == [doc_id for doc_id, _ in expected]
    assert len(shared_index.search_sparse(query, k=1000).hits) == N_DOCS


def test_odd_tokens_are_indexed_verbatim(shared_index, corpus: list[EncodedDocument]) -> None:
    for token in ODD:
        holders = {d.doc_id for d in corpus if quantize_weight(d.vector.get(token, 0.0), SCALE) > 0}
        hits = shared_index.search_sparse(SparseVector({token: 1.0}), k=N_DOCS).hits
        assert {h.doc_id for h in hits} == holders, token


def test_bm25_rare_word_ranks_first(shared_index) -> None:
    hits = shared_index.search_bm25("zeppelin wing lift", k=10).hits
    assert hits[0].doc_id == "0042"
    assert all(isinstance(h, Hit) and isinstance(h.doc_id, str) for h in hits)


def test_count_existing_ids_and_batch_search(shared_index) -> None:
    assert shared_index.count() == N_DOCS
    assert shared_index.existing_ids(["0000", "0199", "0200", "0042", "42"]) == {"0000", "0199", "0042"}
    sparse = shared_index.batch_search_sparse({"q1": SparseVector({"tok5": 1.0}), "q2": SparseVector()}, k=3)
    assert set(sparse) == {"q1", "q2"} and sparse["q2"].hits == () and len(sparse["q1"].hits) <= 3
    bm25 = shared_index.batch_search_bm25({"a": "zeppelin", "b": "the"}, k=3)
    assert bm25["a"].doc_ids == ["0042"] and bm25["b"].hits == ()  # "the" is a stopword


def test_bm25_matches_hand_computation(lucene_backend_cls: type, tmp_path: Path) -> None:
    k1, b = 0.9, 0.4
    texts = {"a": "wing lift", "b": "drag cabin pilot lift lift", "c": "the pilot"}  # "the" is a stopword
    with lucene_backend_cls(tmp_path / "bm25", k1=k1, b=b) as backend:
        backend.index(EncodedDocument(i, t, SparseVector()) for i, t in texts.items())
        lengths = {"a": 2, "b": 5, "c": 1}
        avgdl = sum(lengths.values()) / 3

        def bm25(tf: int, df: int, dl: int) -> float:
            idf = math.log(1 + (3 - df + 0.5) / (df + 0.5))
            return idf * tf / (tf + k1 * (1 - b + b * dl / avgdl))

        hits = backend.search_bm25("lift pilot", k=10).scores()
        expected = {
            "a": bm25(1, 2, 2),
            "b": bm25(2, 2, 5) + bm25(1, 2, 5),
            "c": bm25(1, 2, 1),
        }
        assert hits == pytest.approx(expected, abs=1e-4)
        assert backend.search_bm25("Lifting the wings", k=10).doc_ids[0] == "a"  # Porter stems


def test_resume_skips_present_ids(lucene_backend_cls: type, corpus: list[EncodedDocument], tmp_path: Path) -> None:
    with lucene_backend_cls(tmp_path / "idx") as backend:
        first = backend.index(corpus[:50])
        again = backend.index(corpus[:50])
        mixed = backend.index(corpus[40:60])
        assert (first.indexed, first.skipped) == (50, 0)
        assert (again.indexed, again.skipped) == (0, 50)
        assert (mixed.indexed, mixed.skipped) == (10, 10)
        assert backend.count() == 60
        hits = backend.search_sparse(SparseVector({"every": 1.0}), k=1000).doc_ids
        assert len(hits) == len(set(hits)) == 60


def test_bad_token_is_a_failure_not_a_crash(lucene_backend_cls: type, tmp_path: Path) -> None:
    with lucene_backend_cls(tmp_path / "idx") as backend:
        report = backend.index(
            [
                EncodedDocument("bad", "text", SparseVector({"a\u001eb": 1.0})),
                EncodedDocument("good", "text", SparseVector({"ab": 1.0})),
            ]
        )
        assert (report.indexed, [f.doc_id for f in report.failures]) == (1, ["bad"])
        assert "U+001E" in report.failures[0].reason


def test_empty_vector_and_text_are_indexed(lucene_backend_cls: type, tmp_path: Path) -> None:
    with lucene_backend_cls(tmp_path / "idx") as backend:
        report = backend.index(
            [
                EncodedDocument("empty", "", SparseVector()),
                EncodedDocument("no-text", "", SparseVector({"wing": 1.0})),
                EncodedDocument("no-vector", "wing", SparseVector({"tiny": 0.001})),  # rounds to 0
            ]
        )
        assert report.indexed == 3 and backend.count() == 3
        assert backend.existing_ids(["empty", "no-text", "no-vector"]) == {"empty", "no-text", "no-vector"}
        assert backend.search_sparse(SparseVector({"wing": 1.0, "tiny": 9.0})).doc_ids == ["no-text"]
        assert backend.search_bm25("wing").doc_ids == ["no-vector"]
        assert backend.search_bm25("").hits == ()


def test_reopen_from_disk(lucene_backend_cls: type, corpus: list[EncodedDocument], tmp_path: Path) -> None:
    path = tmp_path / "idx"
    query = SparseVector({"tok3": 2.0, "every": 0.5, "##ing": 1.0})
    with lucene_backend_cls(path, impact_scale=SCALE) as backend:
        backend.index(corpus[:80])
        before = backend.search_sparse(query, k=20).hits
    with lucene_backend_cls(path) as reopened:  # the scale is read from the index
        assert reopened.impact_scale == SCALE
        assert reopened.count() == 80
        assert reopened.search_sparse(query, k=20).hits == before
        assert reopened.index(corpus[:100]).indexed == 20
    with pytest.raises(ConfigError, match="impact_scale"):
        lucene_backend_cls(path, impact_scale=10.0)


def test_delete_and_missing_index(lucene_backend_cls: type, tmp_path: Path) -> None:
    path = tmp_path / "gone"
    backend = lucene_backend_cls(path)
    for call in (backend.count, lambda: backend.search_sparse(SparseVector({"a": 1.0})), lambda: backend.search_bm25("a")):
        with pytest.raises(BackendError, match=str(path)):
            call()
    backend.index([EncodedDocument("a", "wing", SparseVector({"wing": 1.0}))])
    backend.delete_index()
    assert not path.exists()
    with pytest.raises(BackendError, match="no Lucene index"):
        backend.count()
    backend.create_index()
    assert backend.count() == 0
    backend.create_index(overwrite=True)
    backend.close()
    backend.close()  # idempotent


def test_java_errors_become_one_line_backend_errors(lucene_backend_cls: type, tmp_path: Path) -> None:
    path = tmp_path / "locked"
    doc = EncodedDocument("a", "wing", SparseVector({"wing": 1.0}))
    with lucene_backend_cls(path) as first, lucene_backend_cls(path) as second:
        first.index([doc])  # holds the write lock
        with pytest.raises(BackendError) as info:
            second.index([EncodedDocument("b", "drag", SparseVector())])
        message = str(info.value)
        assert "\n" not in message and "LockObtainFailedException" in message and str(path) in message


@pytest.mark.parametrize("kwargs", [{"k1": -1.0}, {"b": 1.5}, {"impact_scale": 0.0}])
def test_bad_settings(lucene_backend_cls: type, tmp_path: Path, kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        lucene_backend_cls(tmp_path / "idx", **kwargs)


def test_hit_ids_are_right_across_segments_and_refreshes(lucene_backend_cls: type, tmp_path: Path) -> None:
    """Hit ids (cached per reader) map right for new segments after a refresh."""
    backend = lucene_backend_cls(tmp_path / "idx", impact_scale=SCALE)
    backend.index([EncodedDocument(f"a{i}", "old text", SparseVector({"tok": 1.0 + i / 100})) for i in range(50)])
    assert backend.search_sparse(SparseVector({"tok": 1.0}), k=3).doc_ids == ["a49", "a48", "a47"]
    backend.index([EncodedDocument(f"b{i}", "new words", SparseVector({"tok": 2.0 + i / 100})) for i in range(50)])
    hits = backend.search_sparse(SparseVector({"tok": 1.0}), k=100).doc_ids
    assert hits[:2] == ["b49", "b48"] and len(hits) == 100
    assert set(hits) == {f"a{i}" for i in range(50)} | {f"b{i}" for i in range(50)}
    assert set(backend.search_bm25("words", k=100).doc_ids) == {f"b{i}" for i in range(50)}
    assert backend.search_sparse(SparseVector({"absent": 1.0}), k=10).hits == ()
    backend.close()


def test_hit_ids_stay_right_when_a_merge_renumbers_documents(lucene_backend_cls: type, tmp_path: Path) -> None:
    """Doc ids are cached per reader: merging away a refused (deleted) document renumbers the rest."""
    backend = lucene_backend_cls(tmp_path / "idx", impact_scale=SCALE)
    immense = "x" * 40_000  # longer than Lucene's longest term: written, then marked deleted
    first = [EncodedDocument("c0", "text", SparseVector({"tok": 1.0, immense: 1.0}))]
    first += [EncodedDocument(f"c{i}", "text", SparseVector({"tok": 1.0 + i / 100})) for i in range(1, 10)]
    assert [f.doc_id for f in backend.index(first).failures] == ["c0"]
    backend.index([EncodedDocument(f"d{i}", "text more", SparseVector({"tok": 2.0 + i / 100})) for i in range(5)])
    expected = [f"d{i}" for i in range(4, -1, -1)] + [f"c{i}" for i in range(9, 0, -1)]
    query = SparseVector({"tok": 1.0})
    assert backend.search_sparse(query, k=14).doc_ids == expected
    backend.force_merge()  # c1..c9 move down one place; "more" now hits places c9, d0..d3 held before
    assert sorted(backend.search_bm25("more", k=5).doc_ids) == [f"d{i}" for i in range(5)]
    assert backend.search_sparse(query, k=14).doc_ids == expected
    backend.close()


def test_bp_reordering_keeps_rankings_and_renumbers_documents(lucene_backend_cls: type, corpus: list[EncodedDocument],
                                                              tmp_path: Path) -> None:
    """A BP-reordered index answers every query with the same hits (ties included) as the plain one."""
    from sparsedoc.plugin.lucene.reorder import Reordering

    plain = lucene_backend_cls(tmp_path / "plain", impact_scale=SCALE)
    ordered = lucene_backend_cls(tmp_path / "ordered", impact_scale=SCALE)
    for backend in (plain, ordered):  # two segments each, merged into one
        backend.index(corpus[: N_DOCS // 2])
        backend.index(corpus[N_DOCS // 2:])
    assert plain.force_merge() is None
    assert ordered.force_merge(reorder=Reordering(fields=("vector", "contents"), min_doc_freq=2)) >= 0.0
    assert ordered.count() == N_DOCS

    def numbering(backend) -> list[str]:  # the Lucene doc number -> doc id map of the one segment
        fields = backend._reader.storedFields()
        return [str(fields.document(n).get("id")) for n in range(backend._reader.maxDoc())]

    assert sorted(numbering(ordered)) == sorted(numbering(plain)) and numbering(ordered) != numbering(plain)
    rng = random.Random(5)
    for _ in range(20):
        tokens = rng.sample(VOCAB, rng.randint(1, 12))
        query = SparseVector({t: rng.choice([1.0, rng.uniform(0.05, 5.0)]) for t in tokens})  # 1.0: ties
        assert ordered.search_sparse(query, k=10).hits == plain.search_sparse(query, k=10).hits
        text = " ".join(rng.sample([d.text for d in corpus], 2))
        assert ordered.search_bm25(text, k=10).hits == plain.search_bm25(text, k=10).hits
    ordered.force_merge(reorder=Reordering())  # again, on a one-segment index: still the same answers
    assert ordered.search_sparse(query, k=N_DOCS).hits == plain.search_sparse(query, k=N_DOCS).hits
    with pytest.raises(ConfigError, match="max_segments must be 1"):
        ordered.force_merge(2, reorder=Reordering())
    with pytest.raises(ConfigError, match="no such field"):
        ordered.force_merge(reorder=Reordering(fields=("nope",)))
    plain.close()
    ordered.close()


def test_reordering_an_empty_or_one_document_index_is_a_no_op(lucene_backend_cls: type, tmp_path: Path) -> None:
    from sparsedoc.plugin.lucene.reorder import Reordering

    backend = lucene_backend_cls(tmp_path / "idx", impact_scale=SCALE)
    backend.create_index()
    assert backend.force_merge(reorder=Reordering()) >= 0.0 and backend.count() == 0
    backend.index([EncodedDocument("only", "wing", SparseVector({"wing": 1.0}))])
    assert backend.force_merge(reorder=Reordering()) >= 0.0
    assert backend.search_sparse(SparseVector({"wing": 2.0}), k=1).doc_ids == ["only"]
    backend.close()
