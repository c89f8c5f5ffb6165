"""The parity gate every export passes: compare a runtime's weights with the PyTorch reference.

The reference is :func:`document_weights` (the same forward pass :class:`TorchDocumentEncoder`
runs). ONNX exports and TorchScript traces are checked on the same texts, once as one padded
batch and once document by document, against a stated ``atol`` and top-k token agreement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .doc_batches import tokenize_documents
from .errors import ExportValidationError
from .pooling import document_weights

DEFAULT_ATOL = 1e-4
DEFAULT_TOP_K = 10

_SENTENCE = (
    "The lift and drag of a slender wing in supersonic flow were measured at several angles of "
    "attack, and the boundary layer transition was compared with laminar theory. "
)
VALIDATION_TEXTS = (
    "wing",
    "heat transfer at the stagnation point",
    "Boundary-layer separation on a flat plate: experiments, 1954 (NACA TN-3021).",
    _SENTENCE * 2,
    _SENTENCE * 40,  # longer than any window: exercises truncation
)

Runner = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""A runtime under test: ``(input_ids, attention_mask)`` (``int64 [batch, seq]``) -> ``[batch, vocab]``."""


@dataclass(frozen=True)
class ParityReport:
    """How an exported model compares with PyTorch on the validation batch."""

    max_abs_diff: float
    top_k: int
    top_k_mismatches: int
    documents: int
    atol: float

    @property
    def passed(self) -> bool:
        """True when within ``atol`` and every document's top-k tokens agree."""
        return self.max_abs_diff <= self.atol and self.top_k_mismatches == 0


def check_parity(
    run: Runner,
    model: Any,
    tokenizer: Any,
    *,
    max_length: int,
    activation: str,
    special_ids: Sequence[int],
    name: str,
    atol: float = DEFAULT_ATOL,
    top_k: int = DEFAULT_TOP_K,
    texts: Sequence[str] = VALIDATION_TEXTS,
) -> ParityReport:
    """Run ``texts`` through ``run`` and the reference forward pass and compare the weights.

    Args:
        run: the runtime under test.
        model: the PyTorch fill-mask model the export came from.
        tokenizer: its tokenizer.
        max_length / activation / special_ids: the export's window, activation and zeroed columns.
        name: what is checked, for the error message (e.g. the export directory).
        atol: largest allowed absolute weight difference.
        top_k: each document's top-k token set must match the reference's.

    Returns:
        The report (``passed`` is True).

    Raises:
        ExportValidationError: a shape mismatch, a difference above ``atol`` or a document
            whose top-``top_k`` token set differs; the message gives the numbers.
    """
    import torch

    batches = [list(texts)] + [[t] for t in texts]
    max_diff, mismatches, documents = 0.0, 0, 0
    for batch_texts in batches:
        batch = tokenize_documents(tokenizer, batch_texts, max_length)
        got = np.asarray(run(batch.input_ids, batch.attention_mask))
        with torch.inference_mode():
            want = document_weights(model, torch.from_numpy(batch.input_ids), torch.from_numpy(batch.attention_mask),
                                    activation, special_ids).numpy()
        if got.shape != want.shape:
            raise ExportValidationError(f"{name}: output shape {got.shape} != PyTorch {want.shape}")
        max_diff = max(max_diff, float(np.max(np.abs(got - want))) if got.size else 0.0)
        for row_got, row_want in zip(got, want, strict=True):
            documents += 1
            if _top_k_set(row_got, top_k) != _top_k_set(row_want, top_k):
                mismatches += 1
    report = ParityReport(max_diff, top_k, mismatches, documents, atol)
    if not np.isfinite(max_diff) or not report.passed:
        raise ExportValidationError(
            f"{name}: export disagrees with PyTorch: max abs diff {max_diff:.3g} (atol {atol:g}), "
            f"{mismatches} of {documents} documents with a different top-{top_k} token set"
        )
    return report


def _top_k_set(row: np.ndarray, k: int) -> frozenset[int]:
    """The ids of the ``k`` largest positive weights (fewer if fewer are positive)."""
    k = min(k, int(np.count_nonzero(row > 0)))
    if k == 0:
        return frozenset()
    return frozenset(int(i) for i in np.argpartition(-row, k - 1)[:k])
