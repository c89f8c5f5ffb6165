"""Training data: the two JSONL formats, BM25 hard-negative mining and a small dev-set reader.

Formats (one JSON object per line):

- ``{"query": str, "pos": str, "negs": [str, ...]}``: teacher scores are computed by the harness
  (``score_with_teachers``) and cached.
- ``{"query": str, "docs": [str, ...], "scores": [float, ...] | {"teacher": [float, ...]}}``:
  precomputed teacher scores; ``docs[0]`` is the positive. A plain list is one teacher named ``"scores"``.

This module imports no other sparsedoc package: mining takes any object with ``search_bm25``
(``sparsedoc.plugin.base.Backend`` satisfies it).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..beir import read_documents, read_qrels, read_queries
from ..errors import ConfigError, InputError
from ..jsonl import read_jsonl
from .pseudo_queries import PseudoQuery


@dataclass
class TrainingExample:
    """One query with its candidates (``docs[0]`` is the positive) and teacher scores per teacher."""

    query: str
    docs: list[str]
    scores: dict[str, list[float]] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        """The JSONL record (``pos/negs`` form when unscored, ``docs/scores`` form otherwise)."""
        if not self.scores:
            return {"query": self.query, "pos": self.docs[0], "negs": self.docs[1:]}
        return {"query": self.query, "docs": self.docs, "scores": self.scores}


class _HitLike(Protocol):
    @property
    def doc_id(self) -> str: ...


class _ResultLike(Protocol):
    @property
    def hits(self) -> Sequence[_HitLike]: ...


class Bm25Searcher(Protocol):
    """What mining needs from a backend: ``search_bm25(text, k)`` returning a result whose ``hits`` have ``doc_id``."""

    def search_bm25(self, text: str, k: int) -> _ResultLike: ...


def read_training_file(path: str | Path) -> list[TrainingExample]:
    """Read either JSONL format (formats may be mixed line by line).

    Raises:
        InputError: missing file, malformed JSON or a bad field (located by line and field),
            or a file with no examples.
    """
    path = Path(path)
    examples = [_parse_example(record, path, line) for line, record in read_jsonl(path)]
    if not examples:
        raise InputError("training file has no examples", path=path)
    return examples


def _parse_example(record: object, path: Path, line: int) -> TrainingExample:
    if not isinstance(record, dict):
        raise InputError("expected a JSON object", path=path, line=line)
    query = record.get("query")
    if not isinstance(query, str) or not query.strip():
        raise InputError("must be a non-empty string", path=path, line=line, field="query")
    if "docs" in record:
        docs = _strings(record["docs"], path, line, "docs")
        if not docs:
            raise InputError("needs at least one document", path=path, line=line, field="docs")
        raw = record.get("scores")
        if raw is None:
            raise InputError("the docs/scores format needs 'scores'", path=path, line=line, field="scores")
        teachers = raw if isinstance(raw, dict) else {"scores": raw}
        scores = {}
        for name, values in teachers.items():
            if not isinstance(values, list) or len(values) != len(docs) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values
            ):
                raise InputError(f"teacher {name!r}: need {len(docs)} finite numbers", path=path, line=line,
                                 field="scores")
            scores[str(name)] = [float(v) for v in values]
        return TrainingExample(query, docs, scores)
    if "pos" not in record:
        raise InputError("need either 'pos' (+ 'negs') or 'docs' + 'scores'", path=path, line=line)
    positive = record["pos"]
    if not isinstance(positive, str) or not positive.strip():
        raise InputError("must be a non-empty string", path=path, line=line, field="pos")
    negatives = _strings(record.get("negs", []), path, line, "negs")
    return TrainingExample(query, [positive, *negatives])


def _strings(value: object, path: Path, line: int, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError("must be a list of strings", path=path, line=line, field=name)
    return list(value)


def write_training_file(examples: Iterable[TrainingExample], path: str | Path) -> Path:
    """Write examples as JSONL (UTF-8) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for example in examples:
            handle.write(json.dumps(example.to_json(), ensure_ascii=False) + "\n")
    return path


def mine_hard_negatives(
    queries: Sequence[PseudoQuery],
    backend: Bm25Searcher,
    documents: Mapping[str, str],
    *,
    num_negatives: int = 7,
    depth: int = 30,
    skip_top: int = 0,
) -> list[TrainingExample]:
    """Attach BM25 hard negatives to pseudo-queries through any backend with ``search_bm25``.

    Takes hits ``skip_top..depth`` (excluding the query's own document), keeps the first
    ``num_negatives`` (BM25 order; deterministic). Queries with no negative are dropped.

    Args:
        queries: pseudo-queries (their ``positive`` is the training positive).
        backend: indexed with the same documents' text.
        documents: doc_id -> the text to train on for that document as a negative.
    """
    if num_negatives < 1 or depth < num_negatives or skip_top < 0:
        raise ConfigError("need 1 <= num_negatives <= depth and skip_top >= 0, "
                          f"got {num_negatives}, {depth}, {skip_top}")
    examples = []
    for query in queries:
        hits = backend.search_bm25(query.query, depth + 1).hits
        negatives = [h.doc_id for h in hits[skip_top:] if str(h.doc_id) != query.doc_id and str(h.doc_id) in documents]
        negatives = negatives[:num_negatives]
        if negatives:
            examples.append(TrainingExample(query.query, [query.positive, *(documents[d] for d in negatives)]))
    return examples


@dataclass(frozen=True)
class DevSet:
    """Dev documents, queries and qrels for periodic evaluation."""

    doc_ids: list[str]
    doc_texts: list[str]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def read_dev_set(corpus: Path, queries: Path, qrels: Path, max_queries: int | None = None) -> DevSet:
    """Read a BEIR-layout dev set with the shared reader (``encoder.beir``): documents' title + text rule included."""
    documents = list(read_documents(corpus))
    query_texts = {q.query_id: q.text for q in read_queries(queries)}
    judged = read_qrels(qrels)
    selected = [q for q in query_texts if q in judged]
    if max_queries:
        selected = selected[:max_queries]
    return DevSet([d.doc_id for d in documents], [d.content for d in documents],
                  {q: query_texts[q] for q in selected}, {q: judged[q] for q in selected})
