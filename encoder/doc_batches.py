"""Runtime-independent steps of document encoding: tokenise, truncate, pad, and decode.

The torch and onnxruntime encoders share these so that both count truncation, order
batches and map vocabulary columns back to token strings the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .pruning import Pruning
from .sparse_vector import SparseVector

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


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
    encoded = tokenizer(list(texts), add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
    truncated = 0
    rows: list[list[int]] = []
    for ids in encoded:
        if len(ids) > max_length:
            truncated += 1
            ids = ids[: max_length - 1] + ids[-1:]
        rows.append(ids)
    width = max((len(r) for r in rows), default=0)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    input_ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    attention_mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, ids in enumerate(rows):
        input_ids[i, : len(ids)] = ids
        attention_mask[i, : len(ids)] = 1
    return TokenizedBatch(input_ids, attention_mask, truncated)


def length_sorted_batches(texts: Sequence[str], batch_size: int) -> list[list[int]]:
    """Group text indices into batches of similar length (by characters) to cut padding."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def rows_to_vectors(weights: np.ndarray, vocabulary: Sequence[str]) -> list[SparseVector]:
    """Turn a dense ``[batch, vocab]`` weight matrix into sparse vectors keyed by token."""
    vectors = []
    for row in weights:
        (nonzero,) = np.nonzero(row > 0)
        vectors.append(SparseVector({vocabulary[j]: float(row[j]) for j in nonzero if j < len(vocabulary)}))
    return vectors


def special_token_ids(tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """Return the vocabulary ids of the tokenizer's special tokens ([CLS], [SEP], [PAD], ...)."""
    return sorted({i for i in tokenizer.all_special_ids if i is not None and i >= 0})


def vocabulary_list(tokenizer: PreTrainedTokenizerBase) -> list[str]:
    """Return token strings indexed by id (``vocabulary[id] == token``)."""
    return tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))


class BatchedDocumentEncoder:
    """``encode_document`` on top of a runtime's ``encode_to_array`` (torch, onnxruntime).

    Subclasses set ``batch_size``, ``vocabulary`` and ``pruning`` and implement
    ``encode_to_array(texts) -> [batch, vocab]`` for one batch.
    """

    batch_size: int
    vocabulary: list[str]
    pruning: Pruning

    def encode_to_array(self, texts: Sequence[str]) -> np.ndarray:
        """Return the dense ``[batch, vocab]`` weights of one batch (unpruned)."""
        raise NotImplementedError

    def encode_document(self, texts: Sequence[str]) -> list[SparseVector]:
        """Encode documents in length-sorted batches; empty or whitespace-only texts give empty vectors."""
        vectors: list[SparseVector] = [SparseVector() for _ in texts]
        live = [i for i, t in enumerate(texts) if t.strip()]
        live_texts = [texts[i] for i in live]
        for batch in length_sorted_batches(live_texts, self.batch_size):
            weights = self.encode_to_array([live_texts[i] for i in batch])
            for i, vector in zip(batch, rows_to_vectors(weights, self.vocabulary)):
                vectors[live[i]] = self.pruning.apply(vector)
        return vectors
