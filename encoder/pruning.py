"""Ingest- and query-time pruning of sparse vectors, with OpenSearch's prune types.

The four types match the neural-search ``prune_type`` options, so the same setting means
the same thing client-side and in an OpenSearch ``sparse_encoding`` pipeline:

- ``top_k``: keep the ``k`` highest weights (``ratio`` is ``k``).
- ``max_ratio``: keep weights >= ``ratio * max(weight)``.
- ``alpha_mass``: keep the highest weights until their sum reaches ``ratio * sum(weight)``.
- ``abs_value``: keep weights >= ``ratio``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ConfigError
from .sparse_vector import SparseVector

PRUNE_TYPES = ("none", "top_k", "max_ratio", "alpha_mass", "abs_value")


@dataclass(frozen=True)
class Pruning:
    """A pruning rule; ``Pruning("max_ratio", 0.1)`` keeps weights >= 10% of the maximum."""

    prune_type: str = "none"
    ratio: float = 0.0

    def __post_init__(self) -> None:
        if self.prune_type not in PRUNE_TYPES:
            raise ConfigError(f"prune_type must be one of {PRUNE_TYPES}, got {self.prune_type!r}")
        if self.prune_type == "top_k" and (self.ratio < 1 or self.ratio != int(self.ratio)):
            raise ConfigError(f"top_k needs a positive integer k, got {self.ratio}")
        if self.prune_type in ("max_ratio", "alpha_mass") and not 0 <= self.ratio <= 1:
            raise ConfigError(f"{self.prune_type} needs a ratio in [0, 1], got {self.ratio}")
        if self.prune_type == "abs_value" and self.ratio < 0:
            raise ConfigError(f"abs_value needs a threshold >= 0, got {self.ratio}")

    def apply(self, vector: SparseVector) -> SparseVector:
        """Return the pruned vector (the input is left unchanged)."""
        if self.prune_type == "none" or not vector:
            return vector
        if self.prune_type == "top_k":
            return vector.top_k(int(self.ratio))
        if self.prune_type == "max_ratio":
            floor = max(vector.values()) * self.ratio
            return SparseVector({t: w for t, w in vector.items() if w >= floor})
        if self.prune_type == "abs_value":
            return SparseVector({t: w for t, w in vector.items() if w >= self.ratio})
        ranked = sorted(vector.items(), key=lambda kv: (-kv[1], kv[0]))
        target = self.ratio * sum(w for _, w in ranked)
        kept: dict[str, float] = {}
        mass = 0.0
        for token, weight in ranked:
            if mass >= target and kept:
                break
            kept[token] = weight
            mass += weight
        return SparseVector(kept)
