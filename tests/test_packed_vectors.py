"""The packed vectors of an encoded vectors file: exactly ``read_encoded``'s vectors, in a fraction of the memory."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from sparsedoc.encoder.errors import InputError
from sparsedoc.encoder.sparse_vector import SparseVector
from sparsedoc.ingest.embeddings_store import Embeddings
from sparsedoc.ingest.neighbours import exact_neighbours
from sparsedoc.ingest.packed_vectors import PackedVectors
from sparsedoc.ingest.smoothed_vectors import smooth_vectors_file
from sparsedoc.ingest.smoothing import Smoothing, smooth_vector
from sparsedoc.ingest.vectors_file import append_encoded, read_encoded
from sparsedoc.plugin.base import EncodedDocument

MIXED = [
    EncodedDocument("d1", "wing lift", SparseVector({"wing": 1.5, "lift": 0.25})),
    EncodedDocument("d2", "nothing", SparseVector()),  # an empty vector
    EncodedDocument("ü-3", "überschall \u2028 日本",
                    SparseVector({"über": 2.0, "##schall": 0.125, "日本": 3.0, "😀": 1.0})),
    EncodedDocument("d4", "", SparseVector({"wing": float(np.float32(0.1)), "lift": float(np.float32(1 / 3))})),
]


def _pairs(vector: SparseVector) -> list[tuple[str, float]]:
    return list(vector.items())  # token order and exact weights


def test_vectors_are_exactly_those_read_encoded_gives(tmp_path: Path) -> None:
    path = tmp_path / "vectors.jsonl"
    append_encoded(path, MIXED)
    with path.open("a") as handle:  # an integer weight and a dropped zero, as a hand-written file may have
        handle.write(json.dumps({"_id": "d5", "vector": {"heat": 2, "flux": 0, "wing": 0.5}}) + "\n")
    packed = PackedVectors.read(path)
    expected = list(read_encoded(path))
    assert packed.ids == [d.doc_id for d in expected] and len(packed) == 5
    assert [_pairs(packed.vector(row)) for row in range(5)] == [_pairs(d.vector) for d in expected]
    assert {doc_id: _pairs(v) for doc_id, v in packed.items()} == {d.doc_id: _pairs(d.vector) for d in expected}
    assert "ü-3" in packed and "d9" not in packed
    assert packed.sizes().tolist() == [2, 0, 4, 2, 2] and packed.postings == 10
    assert packed.nbytes == 6 * 8 + 10 * (4 + 4)  # every weight is a float32: stored as one
    with pytest.raises(IndexError):
        packed.vector(5)


def test_a_weight_that_is_not_a_float32_widens_the_store_and_stays_exact(tmp_path: Path) -> None:
    path = tmp_path / "vectors.jsonl"
    weights = {"a": 0.1, "b": 1e-50, "c": 1e300, "d": 2.0 / 3.0}  # rounds, underflows, overflows in float32
    append_encoded(path, [MIXED[0], EncodedDocument("x", "", SparseVector(weights)), MIXED[2]])
    packed = PackedVectors.read(path)
    assert [_pairs(packed.vector(row)) for row in range(3)] == [_pairs(d.vector) for d in read_encoded(path)]
    assert packed.vector(1).to_dict() == weights
    assert packed.nbytes == 4 * 8 + 10 * (4 + 8)


def test_documents_reads_the_texts_back_and_notices_a_changed_file(tmp_path: Path) -> None:
    path = tmp_path / "vectors.jsonl"
    append_encoded(path, MIXED)
    packed = PackedVectors.read(path)
    got = list(packed.documents([1, 2]))
    assert [(d.doc_id, d.text, _pairs(d.vector)) for d in got] == [
        (d.doc_id, d.text, _pairs(d.vector)) for d in MIXED[1:3]]
    assert list(packed.documents([])) == []
    path.write_text("")
    append_encoded(path, [MIXED[0], MIXED[2]])
    with pytest.raises(InputError, match="changed since it was read: document 2 is 'ü-3', was 'd2'"):
        list(packed.documents([1]))
    with pytest.raises(InputError, match="fewer than 4 documents"):
        list(packed.documents([3]))


def _generated(path: Path, documents: int, tokens: int) -> None:
    """``documents`` vectors of ``tokens`` float32 weights over a 30,000-token vocabulary (as SPLADE's)."""
    rng = np.random.default_rng(0)

    def docs() -> Iterator[EncodedDocument]:
        for i in range(documents):
            rows = rng.choice(30_000, tokens, replace=False).tolist()
            weights = (rng.integers(1, 1 << 12, tokens) / 256).tolist()
            yield EncodedDocument(f"doc{i}", "some text " * 20,
                                  SparseVector({f"tok{r}": w for r, w in zip(rows, weights, strict=True)}))

    append_encoded(path, docs())


def _peak(build: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        kept = build()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del kept
    return peak


def test_packed_store_peaks_far_below_the_documents_as_objects(tmp_path: Path) -> None:
    # Measured at 5,000 x 200 (1M postings): packed 12.4 MB peak (10.6 MB kept, ids and token table included),
    # the list of EncodedDocument 116 MB. The bound sits between them with a margin of 2.5x on either side.
    path = tmp_path / "vectors.jsonl"
    _generated(path, 5_000, 200)
    bound = 32 * 1_000_000
    packed = _peak(lambda: PackedVectors.read(path))
    objects = _peak(lambda: list(read_encoded(path)))
    assert packed < bound < objects, (packed, objects)


def test_interrupted_smoothing_resumes_to_the_output_of_smoothing_each_document(tmp_path: Path) -> None:
    raw, out = tmp_path / "raw.jsonl", tmp_path / "smoothed.jsonl"
    rng = np.random.default_rng(5)
    vocabulary = ["wing", "lift", "über", "日本", "##ing", "drag", "heat", "flux", "😀", "mach"]
    documents = [EncodedDocument(f"d{i}", f"text {i} ü", SparseVector(
        {t: float(rng.random()) for t in rng.choice(vocabulary, int(rng.integers(0, 6)), replace=False).tolist()}))
        for i in range(40)]
    append_encoded(raw, documents)
    dense = rng.normal(size=(40, 8)).astype(np.float32)
    embeddings = Embeddings([d.doc_id for d in documents], dense / np.linalg.norm(dense, axis=1, keepdims=True))
    smoothing = Smoothing(neighbours=3, weight=0.7)
    first = smooth_vectors_file(PackedVectors.read(raw), out, embeddings, smoothing)
    lines = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(b"".join(lines[:25]) + lines[25][:17])  # an interrupted run: 25 whole lines and a torn one
    report = smooth_vectors_file(PackedVectors.read(raw), out, embeddings, smoothing)
    assert (report.smoothed, report.kept) == (15, 25)
    assert report.postings_before == sum(len(d.vector) for d in documents[25:])
    found = exact_neighbours(embeddings.vectors, embeddings.vectors, 3, exclude=np.arange(40))
    expected = [(d.doc_id, d.text, _pairs(smooth_vector(d.vector, [documents[r].vector for r in rows],
                                                        sims.tolist(), smoothing)))
                for d, rows, sims in zip(documents, found.rows, found.similarities, strict=True)]
    assert [(d.doc_id, d.text, _pairs(d.vector)) for d in read_encoded(out)] == expected
    assert first.postings_after == sum(len(vector) for _, _, vector in expected)
