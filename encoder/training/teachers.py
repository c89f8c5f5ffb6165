"""Teachers for ensemble distillation, and on-disk caching of their scores.

- ``DenseTeacher``: a sentence-transformers checkpoint from a local directory (siamese: query and
  document share the encoder), L2-normalised embeddings, dot product.
- ``SparseTeacher``: a SPLADE-style fill-mask checkpoint encoding both query and document
  (siamese sparse), dot product of the pooled vocabulary weights.
- ``Bm25Teacher`` (``bm25_teacher.py``): lexical Okapi BM25, no model.
- ``LabelTeacher``: the training data's own label, 1 for the positive (``docs[0]``) and 0 for the
  negatives; in the ensemble it pulls the target towards the label where the models disagree with it.

``score_with_teachers`` scores each example's candidates once per teacher and caches the result
under ``cache_dir`` keyed by ``sha256(teacher fingerprint + examples)``, where the fingerprint hashes
the teacher's kind, settings and every file of its model directory. A second run on the same data
reads the cache. Losses never call teachers (style guide).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Generic, Protocol, TypeVar

import numpy as np

from ..errors import ConfigError
from ..loading import check_model_dir, model_fingerprint
from .data import TrainingExample

logger = logging.getLogger(__name__)

Encoded = TypeVar("Encoded")
"""What a teacher's ``_encode`` returns for a list of texts (indexed by text position)."""


class Teacher(Protocol):
    """Scores (query, document) pairs; ``fingerprint`` identifies model and settings."""

    name: str

    @property
    def fingerprint(self) -> str: ...

    def score(self, queries: Sequence[str], docs: Sequence[Sequence[str]]) -> list[list[float]]: ...


class _TeacherBase(Generic[Encoded]):
    kind = ""

    def __init__(self, name: str, model_dir: str | Path, *, max_length: int = 256, batch_size: int = 32) -> None:
        if max_length < 2 or batch_size < 1:
            raise ConfigError(f"max_length must be >= 2 and batch_size >= 1, got {max_length}, {batch_size}")
        self.name = name
        self.model_dir = check_model_dir(model_dir)
        self.max_length = max_length
        self.batch_size = batch_size
        self._fingerprint: str | None = None

    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            settings = f"{self.kind}:{self.max_length}:"
            self._fingerprint = hashlib.sha256((settings + model_fingerprint(self.model_dir)).encode()).hexdigest()
        return self._fingerprint

    def score(self, queries: Sequence[str], docs: Sequence[Sequence[str]]) -> list[list[float]]:
        """Score each query against its own candidate list."""
        unique_queries = list(dict.fromkeys(queries))
        unique_docs = list(dict.fromkeys(d for group in docs for d in group))
        query_index = {q: i for i, q in enumerate(unique_queries)}
        doc_index = {d: i for i, d in enumerate(unique_docs)}
        query_vectors = self._encode(unique_queries, is_query=True)
        doc_vectors = self._encode(unique_docs, is_query=False)
        return [
            [float(self._dot(query_vectors, query_index[q], doc_vectors, doc_index[d])) for d in group]
            for q, group in zip(queries, docs, strict=True)
        ]

    def _encode(self, texts: list[str], *, is_query: bool) -> Encoded:  # pragma: no cover - overridden
        raise NotImplementedError

    @staticmethod
    def _dot(query_vectors: Encoded, qi: int, doc_vectors: Encoded, di: int) -> float:  # pragma: no cover
        raise NotImplementedError


class DenseTeacher(_TeacherBase[np.ndarray]):
    """A sentence-transformers bi-encoder from a local directory (e.g. all-MiniLM-L6-v2).

    Example:
        >>> t = DenseTeacher("dense", "models/all-MiniLM-L6-v2")  # doctest: +SKIP
        >>> t.score(["wing lift"], [["lift of wings", "boundary layers"]])  # doctest: +SKIP
    """

    kind = "dense"

    def _encode(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        from ..dense_encoder import DenseEncoder

        if not hasattr(self, "_dense"):
            self._dense = DenseEncoder(self.model_dir, max_length=self.max_length, batch_size=self.batch_size)
        return self._dense.encode(texts)

    @staticmethod
    def _dot(query_vectors: np.ndarray, qi: int, doc_vectors: np.ndarray, di: int) -> float:
        return float(np.dot(query_vectors[qi], doc_vectors[di]))


class SparseTeacher(_TeacherBase[list[tuple[np.ndarray, np.ndarray]]]):
    """A SPLADE-style fill-mask model encoding queries and documents (e.g. SPLADE-tiny)."""

    kind = "sparse"

    def _encode(self, texts: list[str], *, is_query: bool) -> list[tuple[np.ndarray, np.ndarray]]:
        from ..doc_batches import length_sorted_batches
        from ..torch_doc_encoder import TorchDocumentEncoder

        if not hasattr(self, "_encoder"):
            self._encoder = TorchDocumentEncoder(self.model_dir, max_length=self.max_length, batch_size=self.batch_size)
        vectors: list[tuple[np.ndarray, np.ndarray]] = [(np.zeros(0, np.int64), np.zeros(0, np.float32))] * len(texts)
        for batch in length_sorted_batches(texts, self.batch_size):
            weights = self._encoder.encode_to_array([texts[i] for i in batch])
            for i, row in zip(batch, weights, strict=True):
                (nonzero,) = np.nonzero(row > 0)
                vectors[i] = (nonzero, row[nonzero])
        return vectors

    @staticmethod
    def _dot(query_vectors: list[tuple[np.ndarray, np.ndarray]], qi: int,
             doc_vectors: list[tuple[np.ndarray, np.ndarray]], di: int) -> float:
        q_ids, q_weights = query_vectors[qi]
        d_ids, d_weights = doc_vectors[di]
        _, q_at, d_at = np.intersect1d(q_ids, d_ids, assume_unique=True, return_indices=True)
        return float(np.dot(q_weights[q_at], d_weights[d_at]))


class LabelTeacher:
    """Scores the first candidate of each list 1 and the others 0 (the example's label).

    Example:
        >>> LabelTeacher("label").score(["q"], [["positive", "negative", "other"]])
        [[1.0, 0.0, 0.0]]
    """

    kind = "label"

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(b"label:first-candidate").hexdigest()

    def score(self, queries: Sequence[str], docs: Sequence[Sequence[str]]) -> list[list[float]]:
        """One row per query: 1.0 for its first candidate, 0.0 for the rest."""
        if len(queries) != len(docs):
            raise ConfigError(f"{len(queries)} queries but {len(docs)} candidate lists")
        return [[1.0] + [0.0] * (len(group) - 1) for group in docs]


TEACHER_KINDS = ("bm25", "dense", "label", "sparse")


def make_teacher(kind: str, name: str, model_dir: str | Path | None, *, max_length: int = 256,
                 batch_size: int = 32) -> Teacher:
    """Build a teacher by kind (``"dense"``, ``"sparse"``, ``"bm25"`` or ``"label"``; the last two need no model)."""
    if kind == "bm25":
        from .bm25_teacher import Bm25Teacher

        return Bm25Teacher(name)
    if kind == "label":
        return LabelTeacher(name)
    classes: dict[str, type[DenseTeacher] | type[SparseTeacher]] = {"dense": DenseTeacher, "sparse": SparseTeacher}
    if kind not in classes:
        raise ConfigError(f"teacher kind must be one of {TEACHER_KINDS}, got {kind!r}")
    if model_dir is None:
        raise ConfigError(f"teacher {name!r} ({kind}) needs a model directory")
    return classes[kind](name, model_dir, max_length=max_length, batch_size=batch_size)


def score_with_teachers(
    examples: Sequence[TrainingExample], teachers: Sequence[Teacher], *, cache_dir: str | Path | None = None
) -> list[TrainingExample]:
    """Return copies of ``examples`` with each teacher's scores added (cached on disk).

    Args:
        examples: queries with candidates (``docs[0]`` positive); existing scores are kept.
        teachers: each scores every example's candidates.
        cache_dir: where ``<teacher>-<sha256>.json`` score files live (no caching when ``None``).

    Raises:
        ConfigError: two teachers share a name.
    """
    names = [t.name for t in teachers]
    if len(set(names)) != len(names):
        raise ConfigError(f"teacher names must be unique, got {names}")
    data_hash = hashlib.sha256(
        json.dumps([[e.query, e.docs] for e in examples], ensure_ascii=False).encode()
    ).hexdigest()
    scored = [TrainingExample(e.query, list(e.docs), dict(e.scores)) for e in examples]
    for teacher in teachers:
        key = hashlib.sha256(f"{teacher.fingerprint}:{data_hash}".encode()).hexdigest()
        path = Path(cache_dir) / f"{teacher.name}-{key[:32]}.json" if cache_dir else None
        if path is not None and path.is_file():
            logger.info("teacher %s: cached scores %s", teacher.name, path)
            values = json.loads(path.read_text(encoding="utf-8"))["scores"]
        else:
            logger.info("teacher %s: scoring %d examples", teacher.name, len(examples))
            values = teacher.score([e.query for e in examples], [e.docs for e in examples])
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                partial = path.with_suffix(".partial")
                record = {"teacher": teacher.name, "key": key, "scores": values}
                partial.write_text(json.dumps(record), encoding="utf-8")
                partial.replace(path)
        for example, row in zip(scored, values, strict=True):
            example.scores[teacher.name] = row
    return scored
