"""Hybrid retrieval: fusing a BM25 ranking with a sparse ranking, as OpenSearch's neural-search does.

OpenSearch runs a ``hybrid`` query (one sub-query per ranking; each keeps its top
``window`` hits) and fuses the two lists in a search pipeline. The embedded engine runs the
same two searches and fuses here, with the same arithmetic:

* ``min_max`` (``normalization-processor``): each list's scores become
  ``(s - min) / (max - min)`` over that list (1.0 when all are equal; a 0 becomes 0.001),
  then a weighted arithmetic mean, ``sum(w_i * s_i) / sum(w_i)``, where a list that did not
  find the document contributes 0 (what OpenSearch 3.x computes; checked against a real node
  by ``tests/test_hybrid.py``).
* ``rrf`` (``score-ranker-processor``, OpenSearch 2.19+): a document at 1-based position
  ``r`` of a list gets ``1 / (rank_constant + r)``; the fused score is the sum over lists
  (unweighted, as OpenSearch does).

The fused list keeps as many documents as the longest input list.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from operator import itemgetter

from sparsedoc.encoder.errors import ConfigError

FUSION_METHODS = ("min_max", "rrf")
SMOOTHED_SPARSE_WEIGHT = 0.5
"""The default sparse weight in ``min_max`` fusion (BM25 gets the rest) on an index built with dense-neighbour
smoothing: the best nDCG@10 of a 0.1-0.9 grid on SciFact's 809 labelled training queries with the smoothed
vectors (0.719; 0.4 gave 0.718, RRF 0.706; ``benchmarks/hybrid_weights.py --neighbours 3 --neighbour-variant
max``, ``benchmarks/results/hybrid_weights_smoothed.json``; no test query was used)."""
UNSMOOTHED_SPARSE_WEIGHT = 0.4
"""The default sparse weight on an index built without smoothing: the peak of the same grid on the unsmoothed
vectors (0.7149; 0.5 gave 0.7140; ``benchmarks/hybrid_weights.py``, ``benchmarks/results/hybrid_weights.json``)."""

_MIN_SCORE = 0.001  # what neural-search's min_max gives the lowest score of a list


@dataclass(frozen=True)
class Fusion:
    """How a hybrid search fuses BM25 and sparse rankings.

    Args:
        method: ``min_max`` (normalise, then weighted arithmetic mean) or ``rrf``.
        sparse_weight: the sparse list's weight in ``min_max``, in [0, 1]; BM25 gets the rest. ``None``
            (the default): the default for how the searched index was built, set by ``default_fusion``
            (``SMOOTHED_SPARSE_WEIGHT`` or ``UNSMOOTHED_SPARSE_WEIGHT``); a given weight is always kept.
        window: hits each sub-query contributes (at least ``k``; a larger ``k`` widens it).
        rank_constant: RRF's constant (1 to 10,000, as OpenSearch accepts).

    Example:
        >>> Fusion(sparse_weight=0.25).weights
        (0.75, 0.25)
    """

    method: str = "min_max"
    sparse_weight: float | None = None
    window: int = 100
    rank_constant: int = 60

    def __post_init__(self) -> None:
        if self.method not in FUSION_METHODS:
            raise ConfigError(f"fusion method must be one of {FUSION_METHODS}, got {self.method!r}")
        if self.sparse_weight is not None and not (math.isfinite(self.sparse_weight)
                                                   and 0.0 <= self.sparse_weight <= 1.0):
            raise ConfigError(f"sparse_weight must be in [0, 1], got {self.sparse_weight!r}")
        if isinstance(self.window, bool) or not isinstance(self.window, int) or not 1 <= self.window <= 10_000:
            raise ConfigError(f"window must be an integer from 1 to 10000, got {self.window!r}")
        if not 1 <= self.rank_constant <= 10_000:
            raise ConfigError(f"rank_constant must be from 1 to 10000, got {self.rank_constant!r}")

    @property
    def weights(self) -> tuple[float, float]:
        """``(bm25 weight, sparse weight)``, the sub-query order of a hybrid search.

        Raises:
            ConfigError: the sparse weight is unset (``default_fusion`` sets it).
        """
        if self.sparse_weight is None:
            raise ConfigError("the fusion's sparse weight is unset; default_fusion() sets it for the index")
        return 1.0 - self.sparse_weight, self.sparse_weight

    def window_for(self, k: int) -> int:
        """The hits each sub-query keeps for a search of ``k`` hits."""
        return max(self.window, k)

    def describe(self) -> str:
        """A short label, e.g. ``min_max sparse 0.5``, ``min_max sparse default`` (unset) or ``rrf 60``."""
        if self.method == "rrf":
            return f"rrf {self.rank_constant}"
        return "min_max sparse " + ("default" if self.sparse_weight is None else f"{self.sparse_weight:g}")


def default_fusion(smoothed: bool, fusion: Fusion | None = None) -> Fusion:
    """``fusion`` (default ``Fusion()``) for an index built with dense-neighbour smoothing or without.

    An unset sparse weight becomes ``SMOOTHED_SPARSE_WEIGHT`` (0.5) or ``UNSMOOTHED_SPARSE_WEIGHT``
    (0.4); a weight the caller set is kept. Backends call it with their index's build record
    (``BackendBase.hybrid_fusion``).

    Example:
        >>> default_fusion(False).describe(), default_fusion(True, Fusion(sparse_weight=0.7)).describe()
        ('min_max sparse 0.4', 'min_max sparse 0.7')
    """
    fusion = fusion or Fusion()
    if fusion.sparse_weight is not None:
        return fusion
    return replace(fusion, sparse_weight=SMOOTHED_SPARSE_WEIGHT if smoothed else UNSMOOTHED_SPARSE_WEIGHT)


Ranking = Sequence[tuple[str, float]]


def fuse(rankings: Sequence[Ranking], fusion: Fusion) -> list[tuple[str, float]]:
    """Fuse ``(doc_id, score)`` lists (each best first, ids unique; BM25 then sparse) into one scored list.

    Returns:
        ``(doc_id, fused score)`` pairs, best first (ties by doc id), as many as the
        longest input list.
    """
    fused: dict[str, float] = {}
    if fusion.method == "rrf":
        for ranking in rankings:
            for position, (doc_id, _) in enumerate(ranking, start=1):
                fused[doc_id] = fused.get(doc_id, 0.0) + 1.0 / (fusion.rank_constant + position)
    else:
        total = sum(fusion.weights)
        for ranking, weight in zip(rankings, fusion.weights, strict=True):
            part = _min_max(ranking, weight, total)
            if not fused:
                fused = part
                continue
            get = fused.get
            for doc_id, score in part.items():
                fused[doc_id] = get(doc_id, 0.0) + score
    ordered = sorted(fused.items())  # by doc id, then (stable) by score descending
    ordered.sort(key=itemgetter(1), reverse=True)
    return ordered[: max((len(r) for r in rankings), default=0)]


def _min_max(ranking: Ranking, weight: float, total: float) -> dict[str, float]:
    """``doc_id -> weight * min-max-normalised score / total`` for one list."""
    if not ranking:
        return {}
    scores = [score for _, score in ranking]
    low, high = min(scores), max(scores)
    if high == low:
        return {doc_id: weight * 1.0 / total for doc_id, _ in ranking}
    span = high - low
    return {doc_id: weight * ((score - low) / span or _MIN_SCORE) / total for doc_id, score in ranking}
