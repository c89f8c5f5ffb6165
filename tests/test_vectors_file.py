"""The vectors JSONL cache: resumable encoding, repair of an interrupted write, validation."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from sparsedoc.encoder.errors import InputError
from sparsedoc.encoder.sparse_vector import SparseVector
from sparsedoc.ingest.pipeline import encode_to_file
from sparsedoc.ingest.readers import Document
from sparsedoc.ingest.vectors_file import read_encoded


class CountingEncoder:
    """A document encoder that weights each word by its length and counts what it encodes."""

    max_length = 512

    def __init__(self) -> None:
        self.truncated_documents = 0
        self.windowed_documents = 0
        self.encoded: list[str] = []

    def encode_document(self, texts: Sequence[str]) -> list[SparseVector]:
        self.encoded.extend(texts)
        return [SparseVector({w: float(len(w)) for w in t.split()}) for t in texts]


DOCS = [Document(str(i), f"word{i} shared") for i in range(10)] + [Document("empty", "")]


def test_encoding_resumes_without_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "vectors.jsonl"
    first = CountingEncoder()
    report = encode_to_file(DOCS[:4], first, path, batch_size=3)
    assert (report.indexed, report.skipped) == (4, 0)
    with path.open("ab") as handle:  # an interrupted write leaves half a line
        handle.write(b'{"_id": "4", "text": "wo')
    second = CountingEncoder()
    report = encode_to_file(DOCS, second, path, batch_size=3)
    assert (report.indexed, report.skipped, report.empty) == (7, 4, 1)
    assert len(second.encoded) == 7
    stored = list(read_encoded(path))
    assert [d.doc_id for d in stored] == [d.doc_id for d in DOCS]
    assert stored[0].vector.to_dict() == {"word0": 5.0, "shared": 6.0}
    assert len(stored[-1].vector) == 0


def test_bad_vectors_file_is_located(tmp_path: Path) -> None:
    path = tmp_path / "v.jsonl"
    path.write_text('{"_id": "a", "text": "", "vector": {"x": 1}}\n{"_id": "b", "vector": {"x": "big"}}\n')
    with pytest.raises(InputError, match=r"v.jsonl:2: field 'vector'"):
        list(read_encoded(path))


def test_a_cache_two_writers_appended_to_is_repaired(tmp_path: Path) -> None:
    """Repeated ids (two unlocked runs appended the same documents) keep their first line; a torn tail is cut."""
    path = tmp_path / "vectors.jsonl"
    encode_to_file(DOCS[:4], CountingEncoder(), path)
    lines = path.read_text()
    path.write_text(lines + lines + '{"_id": "9", "te')
    encoder = CountingEncoder()
    report = encode_to_file(DOCS, encoder, path, batch_size=3)
    assert (report.indexed, report.skipped) == (7, 4)
    assert len(encoder.encoded) == 7
    assert [d.doc_id for d in read_encoded(path)] == [d.doc_id for d in DOCS]
