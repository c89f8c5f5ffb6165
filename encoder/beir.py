"""The one reader of BEIR-layout datasets (corpus.jsonl, queries.jsonl, qrels/<split>.tsv) and plain JSONL.

Training (``encoder.training``) and ingest/evaluation (``sparsedoc.ingest``) both read
data through this module, so a document's indexed and trained text follow one rule,
``Document.content``: the title, then the text, unless the text already starts with the
title.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError
from .jsonl import UniqueIds, read_jsonl, string_field

Qrels = dict[str, dict[str, int]]


def document_content(title: str, text: str) -> str:
    """Title and text joined; a title the text already starts with is not repeated.

    Example:
        >>> document_content("Wings", "Wings lift."), document_content("Wings", "They lift.")
        ('Wings lift.', 'Wings They lift.')
    """
    title, text = title.strip(), text.strip()
    if not title or text.startswith(title):
        return text
    return f"{title} {text}" if text else title


@dataclass(frozen=True)
class Document:
    """A corpus document. ``content`` is what gets encoded, indexed and trained on."""

    doc_id: str
    text: str
    title: str = ""

    @property
    def content(self) -> str:
        """The title + text rule (``document_content``)."""
        return document_content(self.title, self.text)


@dataclass(frozen=True)
class Query:
    """A query with its id."""

    query_id: str
    text: str


def read_documents(
    path: str | Path, *, id_field: str = "_id", text_field: str = "text", title_field: str | None = "title"
) -> Iterator[Document]:
    """Stream documents from a JSONL file (BEIR ``corpus.jsonl`` by default).

    Each line needs a string (or number) id and a text; the title is optional. An empty
    text is allowed (the document is indexed with an empty vector). Duplicate ids are an
    error naming both lines.
    """
    path = Path(path)
    seen = UniqueIds(path, id_field)
    for line, record in read_jsonl(path):
        doc_id = string_field(record, id_field, path=path, line=line)
        seen.check(doc_id, line)
        text = string_field(record, text_field, path=path, line=line)
        title = string_field(record, title_field, path=path, line=line, required=False) if title_field else ""
        yield Document(doc_id, text, title)


def read_queries(path: str | Path, *, id_field: str = "_id", text_field: str = "text") -> Iterator[Query]:
    """Stream queries from a JSONL file (BEIR ``queries.jsonl`` by default)."""
    path = Path(path)
    seen = UniqueIds(path, id_field)
    for line, record in read_jsonl(path):
        query_id = string_field(record, id_field, path=path, line=line)
        seen.check(query_id, line)
        yield Query(query_id, string_field(record, text_field, path=path, line=line))


def read_qrels(path: str | Path) -> Qrels:
    """Read a TREC/BEIR qrels TSV (``query-id  corpus-id  score``; a header line is optional).

    Raises:
        InputError: a row has the wrong number of columns or a non-integer score.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path=path)
    qrels: Qrels = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for line, row in enumerate(csv.reader(handle, delimiter="\t"), start=1):
            if not row or (line == 1 and row[-1].strip().lower() == "score"):
                continue
            if len(row) == 4:  # TREC layout: qid, iteration, docid, relevance
                row = [row[0], row[2], row[3]]
            if len(row) != 3:
                raise InputError(f"expected 3 tab-separated columns, got {len(row)}", path=path, line=line)
            query_id, doc_id, score = (cell.strip() for cell in row)
            try:
                qrels.setdefault(query_id, {})[doc_id] = int(score)
            except ValueError as err:
                raise InputError(f"score must be an integer, got {score!r}", path=path, line=line,
                                 field="score") from err
    return qrels


@dataclass(frozen=True)
class BeirDataset:
    """A dataset folder in the BEIR layout."""

    root: Path

    @classmethod
    def open(cls, root: str | Path) -> BeirDataset:
        """Check the layout and return the dataset (files are read lazily)."""
        root = Path(root)
        for name in ("corpus.jsonl", "queries.jsonl"):
            if not (root / name).is_file():
                raise InputError(f"not a BEIR dataset folder: {name} is missing", path=root)
        return cls(root)

    @property
    def name(self) -> str:
        """The folder name (e.g. ``cranfield``)."""
        return self.root.name

    def documents(self) -> Iterator[Document]:
        """Stream the corpus."""
        return read_documents(self.root / "corpus.jsonl")

    def queries(self) -> list[Query]:
        """Read all queries."""
        return list(read_queries(self.root / "queries.jsonl"))

    def qrels(self, split: str = "test") -> Qrels:
        """Read ``qrels/<split>.tsv``."""
        return read_qrels(self.root / "qrels" / f"{split}.tsv")

    def judged_queries(self, split: str = "test") -> tuple[list[Query], Qrels]:
        """The queries judged in ``split`` (file order) and that split's qrels."""
        qrels = self.qrels(split)
        return [q for q in self.queries() if q.query_id in qrels], qrels
