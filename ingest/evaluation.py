"""Run a query set against a backend, inference-free sparse and BM25 side by side.

Latency is client-side wall time per query, measured interleaved: for every query the
two methods run back to back, alternating which goes first, after an untimed warm-up
pass. The sparse time includes query encoding (tokenise + IDF lookup), since that is
the whole online cost of an inference-free model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

from sparsedoc.encoder.metrics import (
    DEFAULT_MEASURES,
    Qrels,
    evaluate_run,
    latency_percentiles,
    time_interleaved,
)
from sparsedoc.encoder.protocols import QueryEncoder
from sparsedoc.plugin.base import Backend, SearchResult

from .records import Query

Search = Callable[[Query], SearchResult]


@dataclass
class MethodResult:
    """Quality and latency of one retrieval method on one query set."""

    name: str
    metrics: dict[str, float]
    latency: dict[str, float]
    run: dict[str, dict[str, float]] = field(repr=False)

    def summary(self) -> dict[str, object]:
        """Return the result without the run (JSON-friendly)."""
        data = asdict(self)
        data.pop("run")
        return data


def compare_sparse_and_bm25(
    backend: Backend,
    query_encoder: QueryEncoder,
    queries: Sequence[Query],
    qrels: Qrels,
    *,
    k: int = 100,
    measures: Sequence[str] = DEFAULT_MEASURES,
    show_progress: bool = False,
) -> list[MethodResult]:
    """Evaluate inference-free sparse retrieval and BM25 on the same backend in one run."""

    def sparse(query: Query) -> SearchResult:
        return backend.search_sparse(query_encoder.encode_query([query.text])[0], k)

    def bm25(query: Query) -> SearchResult:
        return backend.search_bm25(query.text, k)

    methods = {"inference-free sparse": sparse, "BM25": bm25}
    runs, seconds = _interleaved(methods, queries, show_progress)
    return [
        MethodResult(name, evaluate_run(runs[name], qrels, measures), latency_percentiles(seconds[name]), runs[name])
        for name in methods
    ]


def _interleaved(
    methods: Mapping[str, Search], queries: Sequence[Query], show_progress: bool
) -> tuple[dict[str, dict[str, dict[str, float]]], dict[str, list[float]]]:
    from tqdm.auto import tqdm

    by_index = {name: (lambda i, search=search: search(queries[i])) for name, search in methods.items()}
    rounds = tqdm(range(len(queries)), disable=not show_progress, unit="query", desc="searching")
    timed = time_interleaved(by_index, rounds, warmup=range(min(len(queries), 20)))
    runs = {
        name: {q.query_id: result.scores() for q, (_, result) in zip(queries, calls)}
        for name, calls in timed.items()
    }
    return runs, {name: [seconds for seconds, _ in calls] for name, calls in timed.items()}
