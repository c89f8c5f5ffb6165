"""A JSONL file of encoded documents: ``{"_id", "text", "vector": {token: weight}}`` per line.

Encoding is the slow step, so it is done once into this file and every backend is fed
from it. Appends are resumable: each line is one ``write`` on an ``O_APPEND`` descriptor, and
``repair`` makes a cache consistent again before the next append: it cuts the partial last
line an interrupted run leaves, and drops the repeated ids of runs that appended at once
before writers were locked (``writer_lock``).
"""

from __future__ import annotations

import json
import logging
import os
import shlex
from collections.abc import Iterable, Iterator
from pathlib import Path

from sparsedoc.encoder.errors import InputError
from sparsedoc.encoder.jsonl import UniqueIds, read_jsonl, string_field
from sparsedoc.encoder.sparse_vector import SparseVector
from sparsedoc.plugin.base import EncodedDocument

logger = logging.getLogger(__name__)

_TAIL_BLOCK = 1 << 16


def repair_tail(path: Path) -> None:
    """Cut a trailing partial line (left by an interrupted write) from ``path``."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    with path.open("r+b") as handle:
        end = position = handle.seek(0, os.SEEK_END)
        while position > 0:
            start = max(0, position - _TAIL_BLOCK)
            handle.seek(start)
            block = handle.read(position - start)
            if position == end and block.endswith(b"\n"):
                return
            if (newline := block.rfind(b"\n")) >= 0:
                break
            position = start
        else:
            start, newline = 0, -1
        handle.truncate(start + newline + 1)
    logger.warning("%s: cut a partial last line (an interrupted write)", path)


def repair(path: Path) -> dict[str, bool]:
    """Make a vectors cache consistent; return each id it holds -> whether its vector has a token.

    A partial last line is cut; an id on several lines keeps its first (the same document
    encoded twice by runs that appended at once). Both are logged.

    Raises:
        InputError: another line is malformed; the message ends with the command that
            removes the file (its documents are encoded again by the next run).
    """
    if not path.is_file():
        return {}
    repair_tail(path)
    held: dict[str, bool] = {}
    repeated: set[int] = set()
    try:
        for line, doc in _read(path):
            if doc.doc_id in held:
                repeated.add(line)
            else:
                held[doc.doc_id] = len(doc.vector) > 0
    except InputError as err:
        raise InputError(f"{err}; remove it to encode again: rm {shlex.quote(str(path))}") from err
    if repeated:
        _drop_lines(path, repeated)
        logger.warning("%s: dropped %d repeated ids (each keeps its first line)", path, len(repeated))
    return held


def _drop_lines(path: Path, lines: set[int]) -> None:
    """Rewrite ``path`` without the given (1-based) line numbers, replacing it atomically."""
    partial = path.with_name(path.name + ".partial")
    with path.open("rb") as source, partial.open("wb") as target:
        for number, raw in enumerate(source, start=1):
            if number not in lines:
                target.write(raw)
    partial.replace(path)


def check_searchable(path: Path) -> None:
    """Refuse a vectors file in which no vector holds a token (reading stops at the first that does).

    Raises:
        InputError: the file has no document, or only empty vectors (an index of it finds nothing).
    """
    documents = 0
    for doc in read_encoded(path):
        documents += 1
        if len(doc.vector):
            return
    raise InputError(f"all {documents} vectors are empty: an index of them would find nothing" if documents
                     else "no documents", path=path)


def append_encoded(path: Path, documents: Iterable[EncodedDocument]) -> int:
    """Append documents to ``path``, one ``write`` call per line; return how many were written.

    The file is opened with ``O_APPEND``, so each line lands whole at the end of the file
    even if another process appends too, and an interruption tears at most the last line.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        for doc in documents:
            record = {"_id": doc.doc_id, "text": doc.text, "vector": doc.vector.to_dict()}
            data = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
            while data:  # a regular file takes the whole line at once; the loop only guards a short write
                data = data[os.write(descriptor, data):]
            written += 1
    finally:
        os.close(descriptor)
    return written


def read_encoded(path: str | Path) -> Iterator[EncodedDocument]:
    """Stream encoded documents, validating each line.

    Raises:
        InputError: naming the file, line and field of a malformed record or a repeated id.
    """
    path = Path(path)
    seen = UniqueIds(path, "_id")
    for line, doc in _read(path):
        seen.check(doc.doc_id, line)
        yield doc


def _read(path: Path) -> Iterator[tuple[int, EncodedDocument]]:
    """``(line, document)`` for each line, validated except for repeated ids."""
    for line, record in read_jsonl(path):
        doc_id = string_field(record, "_id", path=path, line=line)
        if not doc_id.strip():
            raise InputError("empty id", path=path, line=line, field="_id")
        text = string_field(record, "text", path=path, line=line, required=False)
        vector = record.get("vector")
        if not isinstance(vector, dict):
            raise InputError("expected an object of token -> weight", path=path, line=line, field="vector")
        for token, weight in vector.items():
            if isinstance(weight, bool) or not isinstance(weight, (int, float)):
                raise InputError(f"weight of {token!r} must be a number", path=path, line=line, field="vector")
        yield line, EncodedDocument(doc_id, text, SparseVector(vector))
