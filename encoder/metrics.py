"""Retrieval quality (through ir_measures), sparsity statistics, and latency measurement.

Quality metrics are computed by ir_measures, never by hand. Sparsity follows the paper:
document length is the number of nonzero tokens, and the FLOPS of a query set against a
corpus is ``sum_j p_q(j) * p_d(j)`` with ``p`` the fraction of queries / documents in
which token ``j`` is active.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

DEFAULT_MEASURES = ("nDCG@10", "R@100", "RR@10")

T = TypeVar("T")
Run = Mapping[str, Mapping[str, float]]
Qrels = Mapping[str, Mapping[str, int]]


def evaluate_run(run: Run, qrels: Qrels, measures: Sequence[str] = DEFAULT_MEASURES) -> dict[str, float]:
    """Return the mean of each measure over the judged queries.

    Queries in ``qrels`` that are missing from ``run`` count as zero (not dropped).

    Example:
        >>> evaluate_run({"q1": {"d1": 2.0, "d2": 1.0}}, {"q1": {"d2": 1}}, ["RR@10"])
        {'RR@10': 0.5}
    """
    import ir_measures

    parsed = [ir_measures.parse_measure(m) for m in measures]
    scored = [
        ir_measures.ScoredDoc(query_id, doc_id, float(score))
        for query_id, docs in run.items()
        for doc_id, score in docs.items()
    ]
    judged = [
        ir_measures.Qrel(query_id, doc_id, int(relevance))
        for query_id, docs in qrels.items()
        for doc_id, relevance in docs.items()
    ]
    totals = {str(m): 0.0 for m in parsed}
    for metric in ir_measures.iter_calc(parsed, judged, scored):
        totals[str(metric.measure)] += metric.value
    judged_queries = max(1, sum(1 for docs in qrels.values() if any(r > 0 for r in docs.values())))
    return {name: totals[str(m)] / judged_queries for name, m in zip(measures, parsed, strict=True)}


@dataclass(frozen=True)
class SparsityStats:
    """Nonzeros per document (mean, p99) and the FLOPS of a query set against the corpus."""

    documents: int
    mean_nonzeros: float
    p99_nonzeros: float
    flops: float


def sparsity_stats(
    document_vectors: Iterable[Mapping[str, float]], query_vectors: Iterable[Mapping[str, float]]
) -> SparsityStats:
    """Compute document-length statistics and query-set FLOPS."""
    doc_frequency: Counter[str] = Counter()
    lengths = []
    for vector in document_vectors:
        lengths.append(len(vector))
        doc_frequency.update(vector.keys())
    query_frequency: Counter[str] = Counter()
    num_queries = 0
    for vector in query_vectors:
        num_queries += 1
        query_frequency.update(vector.keys())
    num_docs = len(lengths)
    flops = sum(
        (count / num_queries) * (doc_frequency[token] / num_docs)
        for token, count in query_frequency.items()
    ) if num_docs and num_queries else 0.0
    return SparsityStats(
        documents=num_docs,
        mean_nonzeros=float(np.mean(lengths)) if lengths else 0.0,
        p99_nonzeros=float(np.percentile(lengths, 99)) if lengths else 0.0,
        flops=flops,
    )


def latency_percentiles(seconds: Sequence[float]) -> dict[str, float]:
    """Return p50/p95/p99 of per-query latencies, in milliseconds."""
    if not seconds:
        return {"p50_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0}
    ms = np.asarray(seconds) * 1000.0
    return {f"p{p}_ms": float(np.percentile(ms, p)) for p in (50, 95, 99)}


def time_interleaved(
    methods: Mapping[str, Callable[[int], T]],
    rounds: Iterable[int],
    *,
    warmup: Iterable[int] = (),
    max_seconds: float = math.inf,
) -> dict[str, list[tuple[float, T]]]:
    """Call every method once per round on that round's query index, alternating which goes first.

    Untimed warm-up calls (JIT, caches, connections) come first. A run past ``max_seconds``
    stops after a whole round, so every method has answered the same queries.

    Returns:
        Per method, ``(seconds, result)`` of each timed call, in round order.
    """
    names = list(methods)
    for index in warmup:
        for name in names:
            methods[name](index)
    timed: dict[str, list[tuple[float, T]]] = {name: [] for name in names}
    deadline = time.perf_counter() + max_seconds
    for round_number, index in enumerate(rounds):
        for name in names if round_number % 2 == 0 else reversed(names):
            start = time.perf_counter()
            result = methods[name](index)
            timed[name].append((time.perf_counter() - start, result))
        if time.perf_counter() > deadline:
            break
    return timed
