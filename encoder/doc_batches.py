"""Runtime-independent steps of document encoding: tokenise, window or truncate, pad, decode.

The torch and onnxruntime encoders share these so that both handle long documents, order
batches and map vocabulary columns back to token strings the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from .doc_windows import DEFAULT_LONG_DOCUMENTS, DEFAULT_MAX_WINDOWS, document_rows
from .errors import ModelLoadError
from .pruning import Pruning
from .sparse_vector import SparseVector

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class TokenizedBatch:
    """Padded token ids of a batch, plus how many documents were truncated."""

    input_ids: np.ndarray
    attention_mask: np.ndarray
    truncated: int


def tokenize_documents(
    tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], max_length: int
) -> TokenizedBatch:
    """Tokenise with special tokens, cut to ``max_length`` keeping the closing special token.

    Truncation is counted (not silent): a document is truncated when its full token
    sequence, special tokens included, is longer than ``max_length``.
    """
    rows = document_rows(tokenizer, texts, max_length, long_documents="truncate")
    input_ids, attention_mask = pad_rows(rows.rows, tokenizer.pad_token_id)
    return TokenizedBatch(input_ids, attention_mask, rows.truncated)


def pad_rows(rows: Sequence[Sequence[int]], pad_id: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad token id rows into ``int64`` ``(input_ids, attention_mask)`` arrays."""
    width = max((len(r) for r in rows), default=0)
    input_ids = np.full((len(rows), width), pad_id if pad_id is not None else 0, dtype=np.int64)
    attention_mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, ids in enumerate(rows):
        input_ids[i, : len(ids)] = ids
        attention_mask[i, : len(ids)] = 1
    return input_ids, attention_mask


def length_sorted_batches(texts: Sequence[str], batch_size: int) -> list[list[int]]:
    """Group text indices into batches of similar length (by characters) to cut padding."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def rows_to_vectors(weights: np.ndarray, vocabulary: Sequence[str]) -> list[SparseVector]:
    """Turn a dense ``[batch, vocab]`` weight matrix into sparse vectors keyed by token."""
    vectors = []
    for row in weights:
        (nonzero,) = np.nonzero(row[: len(vocabulary)] > 0)
        tokens = [vocabulary[j] for j in nonzero.tolist()]
        vectors.append(SparseVector(dict(zip(tokens, row[nonzero].tolist(), strict=True))))
    return vectors


def special_token_ids(tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """Return the vocabulary ids of the tokenizer's special tokens ([CLS], [SEP], [PAD], ...)."""
    return sorted({i for i in tokenizer.all_special_ids if i is not None and i >= 0})


def vocabulary_list(tokenizer: PreTrainedTokenizerBase) -> list[str]:
    """Return token strings indexed by id (``vocabulary[id] == token``)."""
    return tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))


class BatchedDocumentEncoder:
    """``encode_document`` on top of a runtime's ``run_batch`` (torch, onnxruntime).

    Subclasses set ``model_dir``, ``tokenizer``, ``max_length``, ``batch_size``, ``vocabulary``,
    ``pruning``, ``long_documents``, ``window_stride`` and ``max_windows`` and implement ``run_batch(input_ids,
    attention_mask) -> [batch, vocab]``. ``truncated_documents`` and ``windowed_documents``
    count, over the encoder's life, the long documents cut to one window or split into several.

    A broken model is refused here, for every runtime, with a ``ModelLoadError`` naming its
    folder: weights that are not finite (NaN or inf) on any batch, or no token activated on
    the first batch of documents encoded (a probe: a working model gives any text some tokens).
    """

    model_dir: Path
    tokenizer: PreTrainedTokenizerBase
    max_length: int
    batch_size: int
    vocabulary: list[str]
    pruning: Pruning
    long_documents: str = DEFAULT_LONG_DOCUMENTS
    window_stride: int | None = None
    max_windows: int = DEFAULT_MAX_WINDOWS
    truncated_documents: int = 0
    windowed_documents: int = 0
    _probed: bool = False

    def run_batch(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Return the dense ``[batch, vocab]`` weights of tokenised rows (``int64 [batch, seq]``)."""
        raise NotImplementedError

    def encode_to_array(self, texts: Sequence[str]) -> np.ndarray:
        """Return the dense ``[batch, vocab]`` weights of one batch, long texts truncated (unpruned)."""
        batch = tokenize_documents(self.tokenizer, texts, self.max_length)
        self.truncated_documents += batch.truncated
        return self._run_checked(batch.input_ids, batch.attention_mask)

    def _run_checked(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """``run_batch``, refusing weights that are not finite (the model's own weights are then corrupt)."""
        weights = self.run_batch(input_ids, attention_mask)
        if not np.isfinite(weights).all():
            raise ModelLoadError(f"{self.model_dir}: the model's output is not finite (NaN or inf) on a batch of "
                                 f"{len(weights)} documents: its weights are corrupt")
        return weights

    def _probe(self, weights: np.ndarray) -> None:
        """Refuse a model that activates no token on the first batch of documents it encodes."""
        if not self._probed and not (weights[:, : len(self.vocabulary)] > 0).any():
            raise ModelLoadError(f"{self.model_dir}: the model activates no token on its first {len(weights)} "
                                 "documents (every vector empty): wrong weights or activation")
        self._probed = True

    def encode_document(self, texts: Sequence[str]) -> list[SparseVector]:
        """Encode documents; empty or whitespace-only texts give empty vectors.

        Documents that fit one window (or are cut to it) are sorted by token count before
        batching, so a batch holds rows of similar length and little padding. Windows of
        long documents are built and run ``batch_size`` at a time, each max-pooled into its
        document's running vector: a document's vector is the element-wise maximum of its
        (at most ``max_windows``) windows'.
        """
        vectors: list[SparseVector] = [SparseVector() for _ in texts]
        live = [i for i, t in enumerate(texts) if t.strip()]
        if not live:
            return vectors
        split = document_rows(self.tokenizer, [texts[i] for i in live], self.max_length,
                              long_documents=self.long_documents, window_stride=self.window_stride,
                              max_windows=self.max_windows)
        self.truncated_documents += split.truncated
        self.windowed_documents += split.windowed
        if split.capped:
            logger.warning("%d documents need more than %d windows of %d tokens: only their first %d are encoded "
                           "(counted as truncated)", split.capped, self.max_windows, self.max_length, self.max_windows)
        order = sorted(range(len(split.rows)), key=lambda r: len(split.rows[r]))
        for batch in _chunks(iter(order), self.batch_size):
            weights = self._run_checked(*pad_rows([split.rows[r] for r in batch], self.tokenizer.pad_token_id))
            self._probe(weights)
            for r, row in zip(batch, weights, strict=True):
                vectors[live[split.owners[r]]] = self._sparse(row)
        running: dict[int, np.ndarray] = {}
        windows = ((d.owner, k == len(d.starts) - 1, row) for d in split.windows for k, row in enumerate(d.rows()))
        for window_batch in _chunks(windows, self.batch_size):
            weights = self._run_checked(*pad_rows([row for _, _, row in window_batch], self.tokenizer.pad_token_id))
            self._probe(weights)
            for (owner, last, _), row in zip(window_batch, weights, strict=True):
                if owner in running:
                    np.maximum(running[owner], row, out=running[owner])
                else:
                    running[owner] = row.copy()
                if last:
                    vectors[live[owner]] = self._sparse(running.pop(owner))
        return vectors

    def _sparse(self, weights: np.ndarray) -> SparseVector:
        (vector,) = rows_to_vectors(weights[None, :], self.vocabulary)
        return self.pruning.apply(vector)


def _chunks(items: Iterator[T], size: int) -> Iterator[list[T]]:
    while chunk := list(islice(items, size)):
        yield chunk
