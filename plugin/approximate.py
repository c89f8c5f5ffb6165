"""Settings of approximate sparse search: two-phase query pruning and SEISMIC.

* ``TwoPhase``: the query's high-weight tokens (weight >= ``prune_ratio`` x the largest)
  retrieve ``expansion_rate`` x k candidates, which are then rescored with the remaining
  low-weight tokens, so each candidate ends with its exact score. Query weights are
  IDFs, so phase one skips the long posting lists of frequent tokens (``the``, ``of``).
  The same algorithm and defaults as OpenSearch's ``neural_sparse_two_phase_processor``
  (``prune_type: max_ratio``).
* ``Seismic``: the SEISMIC index (Bruch, Nardini, Rulli, Venturini, SIGIR 2024) of the
  authors' library (PyPI ``pyseismic-lsr``, pip extra ``seismic``): posting lists pruned to
  about ``n_postings`` entries, clustered into blocks with summary vectors; a query visits
  its ``query_cut`` largest tokens and skips blocks whose summary score is below the
  current k-th score divided by ``heap_factor``.

Both settings objects are passed to a backend's constructor (``approximate=``).

Example:
    >>> approximate_settings("two-phase")
    TwoPhase(prune_ratio=0.4, expansion_rate=5.0, max_window_size=10000)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sparsedoc.encoder.errors import ConfigError
from sparsedoc.encoder.sparse_vector import SparseVector

__all__ = ["APPROXIMATE_METHODS", "Seismic", "TwoPhase", "approximate_settings", "split_query"]

APPROXIMATE_METHODS = ("two-phase", "seismic")


@dataclass(frozen=True)
class TwoPhase:
    """Two-phase search: high-weight tokens first, then exact rescoring of a window.

    Args:
        prune_ratio: tokens with weight >= ``prune_ratio`` x the query's largest weight
            run in phase one; the others only rescore (0 < ratio <= 1).
        expansion_rate: phase one retrieves ``ceil(k * expansion_rate)`` candidates (>= 1).
        max_window_size: cap on phase one's candidates.
    """

    prune_ratio: float = 0.4
    expansion_rate: float = 5.0
    max_window_size: int = 10_000

    def __post_init__(self) -> None:
        if not (math.isfinite(self.prune_ratio) and 0.0 < self.prune_ratio <= 1.0):
            raise ConfigError(f"two-phase prune_ratio must be in (0, 1], got {self.prune_ratio!r}")
        if not (math.isfinite(self.expansion_rate) and self.expansion_rate >= 1.0):
            raise ConfigError(f"two-phase expansion_rate must be >= 1, got {self.expansion_rate!r}")
        if isinstance(self.max_window_size, bool) or not (isinstance(self.max_window_size, int)
                                                          and self.max_window_size >= 1):
            raise ConfigError(f"two-phase max_window_size must be an integer >= 1, got {self.max_window_size!r}")

    def window(self, k: int) -> int:
        """Phase one's candidate count for ``k`` hits (never below ``k``)."""
        return max(k, min(self.max_window_size, math.ceil(k * self.expansion_rate)))


@dataclass(frozen=True)
class Seismic:
    """SEISMIC index and query settings (the library's names).

    The defaults reached recall@10 0.99 against exact search at 0.24 ms per query on the
    100k-document synthetic benchmark (``python -m benchmarks.embedded_ann``). Raise
    ``n_postings`` with the corpus: its authors use 3,500-4,000 on 8.8M MS MARCO passages.

    Args:
        n_postings: average posting-list length kept per token at build time.
        centroid_fraction: fraction of each posting list used as cluster centroids.
        summary_energy: share of a block's weight mass kept in its summary vector.
        query_cut: the query's largest tokens that are searched.
        heap_factor: a block is visited if its summary score exceeds the k-th score / heap_factor
            (<= 1; larger is faster and less exact).
        threads: build threads (0: all cores).
    """

    n_postings: int = 500
    centroid_fraction: float = 0.1
    summary_energy: float = 0.4
    query_cut: int = 10
    heap_factor: float = 0.9
    threads: int = 0

    def __post_init__(self) -> None:
        if self.n_postings < 1 or self.query_cut < 1 or self.threads < 0:
            raise ConfigError("seismic n_postings and query_cut must be >= 1, threads >= 0")
        if not 0.0 < self.centroid_fraction <= 1.0 or not 0.0 < self.summary_energy <= 1.0:
            raise ConfigError("seismic centroid_fraction and summary_energy must be in (0, 1]")
        if not 0.0 < self.heap_factor <= 1.0:
            raise ConfigError(f"seismic heap_factor must be in (0, 1], got {self.heap_factor!r}")


def approximate_settings(method: str | None) -> TwoPhase | Seismic | None:
    """The default settings of ``method`` (one of ``APPROXIMATE_METHODS``), or ``None`` for exact search.

    Raises:
        ConfigError: an unknown method.
    """
    if method is None or method == "exact":
        return None
    if method == "two-phase":
        return TwoPhase()
    if method == "seismic":
        return Seismic()
    raise ConfigError(f"approximate method must be one of {APPROXIMATE_METHODS}, got {method!r}")


def split_query(query: SparseVector, prune_ratio: float) -> tuple[SparseVector, SparseVector]:
    """Split ``query`` into its high-weight tokens (>= ``prune_ratio`` x max) and the rest."""
    top = max(query.values(), default=0.0)
    high = {t: w for t, w in query.items() if w >= prune_ratio * top}
    low = {t: w for t, w in query.items() if w < prune_ratio * top}
    return SparseVector(high), SparseVector(low)
