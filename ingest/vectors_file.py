"""A JSONL file of encoded documents: ``{"_id", "text", "vector": {token: weight}}`` per line.

Encoding is the slow step, so it is done once into this file and every backend is fed
from it. Appends are resumable: a run interrupted mid-line leaves a partial last line,
which ``repair_tail`` removes before the next append.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from sparsedoc.encoder.errors import InputError
from sparsedoc.encoder.jsonl import UniqueIds, read_jsonl, string_field
from sparsedoc.encoder.sparse_vector import SparseVector
from sparsedoc.plugin.base import EncodedDocument


def repair_tail(path: Path) -> None:
    """Cut a trailing partial line (left by an interrupted write) from ``path``."""
    if not path.is_file():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])


def encoded_ids(path: Path) -> set[str]:
    """Return the ids already written to ``path`` (empty if it does not exist)."""
    if not path.is_file():
        return set()
    return {doc.doc_id for doc in read_encoded(path)}


def append_encoded(path: Path, documents: Iterable[EncodedDocument]) -> int:
    """Append documents to ``path`` and flush; return how many were written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with path.open("a", encoding="utf-8") as handle:
        for doc in documents:
            record = {"_id": doc.doc_id, "text": doc.text, "vector": doc.vector.to_dict()}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            written += 1
        handle.flush()
    return written


def read_encoded(path: str | Path) -> Iterator[EncodedDocument]:
    """Stream encoded documents, validating each line.

    Raises:
        InputError: naming the file, line and field of a malformed record.
    """
    path = Path(path)
    seen = UniqueIds(path, "_id")
    for line, record in read_jsonl(path):
        doc_id = string_field(record, "_id", path=path, line=line)
        seen.check(doc_id, line)
        text = string_field(record, "text", path=path, line=line, required=False)
        vector = record.get("vector")
        if not isinstance(vector, dict):
            raise InputError("expected an object of token -> weight", path=path, line=line, field="vector")
        for token, weight in vector.items():
            if isinstance(weight, bool) or not isinstance(weight, (int, float)):
                raise InputError(f"weight of {token!r} must be a number", path=path, line=line, field="vector")
        yield EncodedDocument(doc_id, text, SparseVector(vector))
