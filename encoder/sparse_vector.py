"""The sparse token -> weight vector every encoder returns and every backend stores."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping


class SparseVector(Mapping[str, float]):
    """An immutable mapping from vocabulary token to a positive weight.

    Zero, negative and non-finite weights are dropped on construction, so a vector only
    holds the tokens that contribute to a dot product.

    Example:
        >>> q = SparseVector({"wing": 2.0, "lift": 1.0})
        >>> d = SparseVector({"wing": 0.5, "drag": 3.0})
        >>> q.dot(d)
        1.0
    """

    __slots__ = ("_weights",)

    def __init__(self, weights: Mapping[str, float] | None = None) -> None:
        self._weights: dict[str, float] = {
            token: float(w)
            for token, w in (weights or {}).items()
            if w > 0 and math.isfinite(w)
        }

    def __getitem__(self, token: str) -> float:
        return self._weights[token]

    def __iter__(self) -> Iterator[str]:
        return iter(self._weights)

    def __len__(self) -> int:
        return len(self._weights)

    def __repr__(self) -> str:
        top = sorted(self._weights.items(), key=lambda kv: -kv[1])[:5]
        body = ", ".join(f"{t!r}: {w:.3f}" for t, w in top)
        more = ", ..." if len(self._weights) > 5 else ""
        return f"SparseVector({{{body}{more}}}, nnz={len(self)})"

    def dot(self, other: Mapping[str, float]) -> float:
        """Return the dot product with another token -> weight mapping."""
        small, large = (self, other) if len(self) <= len(other) else (other, self)
        return sum(w * large.get(t, 0.0) for t, w in small.items())

    def top_k(self, k: int) -> SparseVector:
        """Return the ``k`` highest-weighted tokens (ties broken by token for determinism)."""
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        kept = sorted(self._weights.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        return SparseVector(dict(kept))

    def to_dict(self) -> dict[str, float]:
        """Return a plain ``dict`` copy (JSON-serialisable)."""
        return dict(self._weights)
