"""Dense-neighbour smoothing of document vectors, at index time only (queries are unchanged).

Each document's sparse vector ``d`` is combined with ``n(d) = sum_j s_j * v_j``, the
similarity-weighted mean of the sparse vectors ``v_j`` of its ``k`` nearest neighbours by a dense
model (weights ``s_j`` = cosine similarity clipped at 0, normalised to sum 1):

- ``additive``: ``d + weight * n(d)``
- ``expansion``: ``d`` where ``d`` has the token, ``weight * n(d)`` only for tokens ``d`` lacks
- ``max``: ``max(d, weight * n(d))`` per token

then each vector keeps its highest weights: at most ``max_tokens`` and at most ``max_growth``
times its own unsmoothed size (the index stays within that many postings). It is the modern form
of cluster-based document smoothing from language-model retrieval: documents borrow the
vocabulary of their dense neighbours, which an inference-free query (tokenizer + IDF) can then match.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from sparsedoc.encoder.errors import ConfigError
from sparsedoc.encoder.sparse_vector import SparseVector

VARIANTS = ("additive", "expansion", "max")


@dataclass(frozen=True)
class Smoothing:
    """How document vectors borrow from their dense neighbours; ``neighbours=0`` is off.

    Example:
        >>> Smoothing(neighbours=3, weight=1.0).describe()
        'additive k=3 weight=1 max_growth=1.5'
    """

    neighbours: int = 0
    weight: float = 1.0
    variant: str = "additive"
    max_tokens: int | None = None
    max_growth: float | None = 1.5

    def __post_init__(self) -> None:
        if self.neighbours < 0:
            raise ConfigError(f"neighbours must be >= 0, got {self.neighbours}")
        if not (self.weight >= 0 and math.isfinite(self.weight)):
            raise ConfigError(f"neighbour weight must be a finite number >= 0, got {self.weight}")
        if self.variant not in VARIANTS:
            raise ConfigError(f"smoothing variant must be one of {VARIANTS}, got {self.variant!r}")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ConfigError(f"max_tokens must be >= 1, got {self.max_tokens}")
        if self.max_growth is not None and self.max_growth < 1:
            raise ConfigError(f"max_growth must be >= 1 (a multiple of the unsmoothed size), got {self.max_growth}")

    @property
    def enabled(self) -> bool:
        """Whether vectors change at all."""
        return self.neighbours > 0 and self.weight > 0

    def describe(self) -> str:
        """One line for tables and logs."""
        if not self.enabled:
            return "none"
        caps = (f" max_tokens={self.max_tokens}" if self.max_tokens else "") + (
            f" max_growth={self.max_growth:g}" if self.max_growth else "")
        return f"{self.variant} k={self.neighbours} weight={self.weight:g}{caps}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly settings (recorded in workspaces and index metadata)."""
        return asdict(self)

    def key(self) -> str:
        """A short stable hash of the settings (names cached files and indexes)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:10]


def neighbour_mean(vectors: Sequence[Mapping[str, float]], similarities: Sequence[float]) -> dict[str, float]:
    """``sum_j s_j v_j`` with ``s_j`` the similarities clipped at 0 and normalised to sum 1 (empty if none > 0)."""
    weights = np.clip(np.asarray(similarities, np.float64), 0.0, None)
    total = float(weights.sum())
    mean: dict[str, float] = {}
    if total <= 0:
        return mean
    for vector, weight in zip(vectors, weights / total, strict=True):
        if weight <= 0:
            continue
        for token, value in vector.items():
            mean[token] = mean.get(token, 0.0) + float(weight) * value
    return mean


def smooth_vector(document: SparseVector, neighbours: Sequence[Mapping[str, float]], similarities: Sequence[float],
                  smoothing: Smoothing) -> SparseVector:
    """The smoothed vector of one document (see the module docstring for the formula)."""
    if not smoothing.enabled or not neighbours:
        return document
    borrowed = neighbour_mean(neighbours, similarities)
    alpha = smoothing.weight
    if smoothing.variant == "additive":
        merged = dict(document.items())
        for token, value in borrowed.items():
            merged[token] = merged.get(token, 0.0) + alpha * value
    elif smoothing.variant == "expansion":
        merged = {token: alpha * value for token, value in borrowed.items()} | dict(document.items())
    else:
        merged = dict(document.items())
        for token, value in borrowed.items():
            merged[token] = max(merged.get(token, 0.0), alpha * value)
    return SparseVector(merged).top_k(token_budget(len(document), smoothing))


def token_budget(unsmoothed_size: int, smoothing: Smoothing) -> int:
    """The most tokens a smoothed vector keeps: ``max_tokens``, and ``max_growth`` x its own size."""
    budget = smoothing.max_tokens if smoothing.max_tokens is not None else 1 << 30
    if smoothing.max_growth is not None:
        budget = min(budget, max(1, math.floor(smoothing.max_growth * max(unsmoothed_size, 1))))
    return budget
