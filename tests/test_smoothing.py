"""Dense-neighbour smoothing: the formula, the neighbours, the token budget, the file step and the index record."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from sparsedoc.encoder.errors import ConfigError
from sparsedoc.encoder.sparse_vector import SparseVector
from sparsedoc.ingest.embeddings_store import Embeddings, EmbeddingsStore
from sparsedoc.ingest.neighbours import exact_neighbours, hnsw_neighbours
from sparsedoc.ingest.packed_vectors import PackedVectors
from sparsedoc.ingest.smoothed_vectors import settings_path, smooth_vectors_file
from sparsedoc.ingest.smoothing import Smoothing, smooth_vector, token_budget
from sparsedoc.ingest.vectors_file import append_encoded, read_encoded
from sparsedoc.plugin.base import EncodedDocument

DOCS = {
    "a": {"wing": 2.0, "lift": 1.0},
    "b": {"wing": 1.0, "drag": 3.0},
    "c": {"heat": 2.0, "flux": 1.0},
    "d": {"heat": 1.0, "boundary": 0.5},
}
EMBEDDINGS = np.array([[1.0, 0.0, 0.0], [0.8, 0.6, 0.0], [0.0, 0.6, 0.8], [0.0, 0.0, 1.0]], np.float32)


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_additive_smoothing_is_the_formula() -> None:
    # d' = d + alpha * sum_j (s_j / sum s) v_j, here with two neighbours of similarity 0.8 and 0.2
    smoothing = Smoothing(neighbours=2, weight=0.5, max_growth=None)
    got = smooth_vector(SparseVector(DOCS["a"]), [DOCS["b"], DOCS["c"]], [0.8, 0.2], smoothing)
    expected = {"wing": 2.0 + 0.5 * 0.8 * 1.0, "lift": 1.0, "drag": 0.5 * 0.8 * 3.0,
                "heat": 0.5 * 0.2 * 2.0, "flux": 0.5 * 0.2 * 1.0}
    assert got.to_dict() == pytest.approx(expected)


def test_expansion_keeps_own_weights_and_max_takes_the_larger() -> None:
    doc, neighbours, sims = SparseVector(DOCS["a"]), [DOCS["b"]], [1.0]
    expansion = smooth_vector(doc, neighbours, sims, Smoothing(neighbours=1, weight=2.0, variant="expansion",
                                                               max_growth=None))
    assert expansion.to_dict() == {"wing": 2.0, "lift": 1.0, "drag": 6.0}
    largest = smooth_vector(doc, neighbours, sims, Smoothing(neighbours=1, weight=3.0, variant="max", max_growth=None))
    assert largest.to_dict() == {"wing": 3.0, "lift": 1.0, "drag": 9.0}


def test_negative_similarities_borrow_nothing() -> None:
    doc = SparseVector(DOCS["a"])
    assert smooth_vector(doc, [DOCS["c"]], [-0.3], Smoothing(neighbours=1)) == doc


def test_budget_keeps_the_highest_weights() -> None:
    doc = SparseVector({f"t{i}": float(i + 1) for i in range(4)})  # 4 tokens
    neighbour = {f"n{i}": 10.0 + i for i in range(6)}
    grown = smooth_vector(doc, [neighbour], [1.0], Smoothing(neighbours=1, max_growth=1.5))
    assert token_budget(4, Smoothing(neighbours=1, max_growth=1.5)) == 6
    assert sorted(grown) == sorted(f"n{i}" for i in range(6))  # the 6 largest weights, all borrowed
    capped = smooth_vector(doc, [neighbour], [1.0], Smoothing(neighbours=1, max_tokens=3, max_growth=None))
    assert capped.to_dict() == {"n5": 15.0, "n4": 14.0, "n3": 13.0}


def test_exact_neighbours_match_brute_force_and_skip_self() -> None:
    rng = np.random.default_rng(3)
    corpus = _unit(rng.normal(size=(300, 16)).astype(np.float32))
    rows = np.arange(300)
    found = exact_neighbours(corpus, corpus, 5, exclude=rows, block=64)
    scores = corpus @ corpus.T
    np.fill_diagonal(scores, -np.inf)
    brute = np.argsort(-scores, axis=1, kind="stable")[:, :5]
    assert (found.rows == brute).all()
    assert np.allclose(found.similarities, np.take_along_axis(scores, brute, axis=1), atol=1e-6)
    assert not (found.rows == rows[:, None]).any()


def test_hnsw_neighbours_agree_with_exact_on_a_small_corpus() -> None:
    rng = np.random.default_rng(4)
    corpus = _unit(rng.normal(size=(500, 16)).astype(np.float32))
    rows = np.arange(500)
    exact = exact_neighbours(corpus, corpus, 3, exclude=rows)
    approx = hnsw_neighbours(corpus, corpus, 3, exclude=rows, ef_search=200)
    recall = np.mean([len(set(a) & set(e)) / 3 for a, e in zip(approx.rows, exact.rows)])
    assert recall >= 0.95
    assert not (approx.rows == rows[:, None]).any()


def test_fewer_documents_than_neighbours_pads_with_minus_one() -> None:
    found = exact_neighbours(EMBEDDINGS[:2], EMBEDDINGS[:2], 3, exclude=np.arange(2))
    assert found.rows.tolist() == [[1, -1, -1], [0, -1, -1]]


def _write_vectors(path: Path, ids: list[str]) -> None:
    append_encoded(path, (EncodedDocument(i, f"text {i}", SparseVector(DOCS[i])) for i in ids))


def test_file_step_smooths_each_document_with_its_nearest_neighbour(tmp_path: Path) -> None:
    raw, out = tmp_path / "raw.jsonl", tmp_path / "smoothed.jsonl"
    _write_vectors(raw, list(DOCS))
    embeddings = Embeddings(list(DOCS), _unit(EMBEDDINGS))
    smoothing = Smoothing(neighbours=1, weight=1.0, max_growth=None)
    report = smooth_vectors_file(PackedVectors.read(raw), out, embeddings, smoothing, dense_model="m")
    smoothed = {d.doc_id: d.vector.to_dict() for d in read_encoded(out)}
    assert report.smoothed == 4 and report.postings_before == 8
    assert smoothed["a"] == {"wing": 3.0, "lift": 1.0, "drag": 3.0}  # a's nearest is b
    assert smoothed["d"] == {"heat": 3.0, "boundary": 0.5, "flux": 1.0}  # d's nearest is c
    assert json.loads(settings_path(out).read_text())["smoothing"]["neighbours"] == 1


def test_file_step_adds_new_documents_against_all_and_keeps_the_old(tmp_path: Path) -> None:
    raw, out = tmp_path / "raw.jsonl", tmp_path / "smoothed.jsonl"
    smoothing = Smoothing(neighbours=1, weight=1.0, max_growth=None)
    _write_vectors(raw, ["a", "c", "d"])
    smooth_vectors_file(PackedVectors.read(raw), out, Embeddings(["a", "c", "d"], _unit(EMBEDDINGS[[0, 2, 3]])),
                        smoothing)
    first = {d.doc_id: d.vector.to_dict() for d in read_encoded(out)}
    _write_vectors(raw, ["b"])
    report = smooth_vectors_file(PackedVectors.read(raw), out, Embeddings(list(DOCS), _unit(EMBEDDINGS)), smoothing)
    after = {d.doc_id: d.vector.to_dict() for d in read_encoded(out)}
    assert (report.smoothed, report.kept) == (1, 3)
    assert {k: after[k] for k in first} == first  # old documents are not updated
    assert after["b"] == {"wing": 3.0, "drag": 3.0, "lift": 1.0}  # b's nearest is a, already there


def test_file_step_refuses_other_settings(tmp_path: Path) -> None:
    raw, out = tmp_path / "raw.jsonl", tmp_path / "smoothed.jsonl"
    _write_vectors(raw, list(DOCS))
    embeddings = Embeddings(list(DOCS), _unit(EMBEDDINGS))
    vectors = PackedVectors.read(raw)
    smooth_vectors_file(vectors, out, embeddings, Smoothing(neighbours=1))
    with pytest.raises(ConfigError, match="other settings"):
        smooth_vectors_file(vectors, out, embeddings, Smoothing(neighbours=2))


def test_embeddings_store_resumes_and_embeds_only_new_ids(tmp_path: Path) -> None:
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return _unit(np.array([[len(t), 1.0] for t in texts], np.float32))

    def unread() -> Iterator[str]:
        raise AssertionError("texts read although every id is stored")
        yield ""

    store = EmbeddingsStore(tmp_path / "dense", "fp")
    store.ensure(["x", "y"], ["a", "bb"], embed, chunk_size=1)
    stored = store.ensure(["x", "y", "z"], iter(["a", "bb", "ccc"]), embed)  # texts may stream
    assert store.ensure(["x", "y", "z"], unread(), embed).ids == stored.ids
    assert calls == [["a"], ["bb"], ["ccc"]]
    assert stored.ids == ["x", "y", "z"]
    assert np.allclose(stored.rows(["z"]), _unit(np.array([[3.0, 1.0]])))
    with pytest.raises(ConfigError, match="another dense model"):
        EmbeddingsStore(tmp_path / "dense", "other").claim()
