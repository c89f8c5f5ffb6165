"""Query latency of inference-free sparse retrieval against BM25 on the same engine.

Timing on a shared machine is noisy, so methods are only ever compared side by side in
one run:

* **One client** (``measure_interleaved``): for every query the methods run back to back,
  the order alternating from query to query, after an untimed warm-up. Each request's
  client wall time is recorded, and the engine's own time where it reports one
  (OpenSearch's ``took``).
* **N clients** (``measure_throughput``): ``clients`` threads send requests as fast as
  they can; methods take turns in short time slices (A, B, A, B, ...) so that a burst of
  load from other processes hits both alike. Reports QPS and client percentiles.

A *method* is any ``Callable[[int], float | None]`` that runs query number ``i`` and
returns the engine-reported milliseconds (anything else, e.g. ``None``, means "not reported").
``backend_methods`` wraps any ``Backend`` (its ``SearchResult.took_ms``);
``sparsedoc.plugin.opensearch.latency.OpenSearchMethods`` sends raw OpenSearch requests (an
index, pipeline or SEISMIC parameters per method) and reads ``took``.
Every measurement is bounded by both a request count and a time limit.

Example:
    >>> comparison = compare_latency(methods, num_queries=200, clients=(1, 4))  # doctest: +SKIP
    >>> comparison.ratio("inference-free sparse", "p50_ms")  # doctest: +SKIP
    0.93
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from sparsedoc.encoder.errors import BackendError, ConfigError
from sparsedoc.encoder.metrics import time_interleaved
from sparsedoc.encoder.sparse_vector import SparseVector

from .base import Backend

__all__ = [
    "LatencyComparison",
    "LatencyStats",
    "Method",
    "ThroughputStats",
    "backend_methods",
    "compare_latency",
    "measure_interleaved",
    "measure_throughput",
]

Method = Callable[[int], "float | None"]
_PERCENTILES = (50, 95, 99)


def _percentiles(ms: Sequence[float]) -> dict[str, float]:
    if not ms:
        return {**{f"p{p}_ms": float("nan") for p in _PERCENTILES}, "mean_ms": float("nan")}
    values = np.asarray(ms, dtype=np.float64)
    return {**{f"p{p}_ms": float(np.percentile(values, p)) for p in _PERCENTILES}, "mean_ms": float(values.mean())}


@dataclass
class LatencyStats:
    """One method's single-client latency: client-side and (if reported) server-side, in ms."""

    name: str
    requests: int
    client: dict[str, float]
    server: dict[str, float] | None


@dataclass
class ThroughputStats:
    """One method under ``clients`` concurrent clients."""

    name: str
    clients: int
    requests: int
    seconds: float
    qps: float
    client: dict[str, float]
    server: dict[str, float] | None = None
    """Percentiles of the engine times the method returned, if it returned any."""


@dataclass
class LatencyComparison:
    """Single-client latencies and throughputs of several methods, measured in one run."""

    latency: dict[str, LatencyStats]
    throughput: list[ThroughputStats] = field(default_factory=list)
    baseline: str = "BM25"
    environment: dict[str, Any] = field(default_factory=dict)

    def ratio(self, name: str, stat: str = "p50_ms", *, server: bool = False) -> float:
        """``name``'s statistic divided by the baseline's (client side unless ``server``)."""
        part = "server" if server else "client"
        mine, base = getattr(self.latency[name], part), getattr(self.latency[self.baseline], part)
        if not mine or not base or not base.get(stat):
            return float("nan")
        return mine[stat] / base[stat]

    def qps_ratio(self, name: str, clients: int) -> float:
        """``name``'s QPS divided by the baseline's at ``clients`` clients."""
        qps = {(t.name, t.clients): t.qps for t in self.throughput}
        base = qps.get((self.baseline, clients))
        return qps[(name, clients)] / base if base else float("nan")

    def rows(self) -> list[list[object]]:
        """Table rows: method, requests, client p50/p95/p99, server p50/p99, p50 and p99 ratios."""
        out: list[list[object]] = []
        for name, stats in self.latency.items():
            server = stats.server or {}
            out.append([
                name, stats.requests, stats.client["p50_ms"], stats.client["p95_ms"], stats.client["p99_ms"],
                server.get("p50_ms", "-"), server.get("p99_ms", "-"),
                self.ratio(name, "p50_ms"), self.ratio(name, "p99_ms"),
            ])
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form, with ratios to the baseline."""
        return {
            "baseline": self.baseline,
            "environment": self.environment,
            "latency": {name: asdict(s) for name, s in self.latency.items()},
            "ratios": {
                name: {stat: self.ratio(name, stat) for stat in ("p50_ms", "p95_ms", "p99_ms", "mean_ms")}
                | {f"server_{stat}": self.ratio(name, stat, server=True) for stat in ("p50_ms", "p99_ms")}
                for name in self.latency
            },
            "throughput": [asdict(t) for t in self.throughput],
        }


ROW_HEADERS = ["method", "n", "p50 ms", "p95 ms", "p99 ms", "server p50", "server p99", "p50 x", "p99 x"]


def environment() -> dict[str, Any]:
    """Cores, memory and load average, to record next to timings."""
    info: dict[str, Any] = {"cpus": os.cpu_count(), "loadavg": list(os.getloadavg())}
    try:
        with open("/proc/meminfo") as handle:
            info["mem_total_gib"] = round(int(handle.readline().split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    return info


def measure_interleaved(
    methods: Mapping[str, Method],
    num_queries: int,
    *,
    warmup: int = 20,
    max_requests: int | None = None,
    max_seconds: float = 60.0,
) -> dict[str, LatencyStats]:
    """Time each method on queries ``0 .. num_queries-1``, interleaved, one client.

    Queries are cycled if ``max_requests`` exceeds ``num_queries``; the run stops early
    after ``max_seconds`` (always on a whole round, so every method has the same queries).
    """
    if num_queries < 1 or not methods:
        raise ConfigError("need at least one query and one method")
    total = max_requests or num_queries
    timed = time_interleaved(methods, (r % num_queries for r in range(total)),
                             warmup=range(min(warmup, num_queries)), max_seconds=max_seconds)
    client = {n: [seconds * 1000.0 for seconds, _ in calls] for n, calls in timed.items()}
    server = {n: [float(took) for _, took in calls if isinstance(took, (int, float))] for n, calls in timed.items()}
    return {
        n: LatencyStats(n, len(client[n]), _percentiles(client[n]), _percentiles(server[n]) if server[n] else None)
        for n in timed
    }


def measure_throughput(
    methods: Mapping[str, Method],
    num_queries: int,
    clients: int,
    *,
    seconds_per_method: float = 10.0,
    slice_seconds: float = 2.0,
) -> list[ThroughputStats]:
    """Run each method with ``clients`` threads for ``seconds_per_method`` in alternating slices.

    Slices last ``slice_seconds`` (at most ``seconds_per_method``).
    """
    if clients < 1:
        raise ConfigError(f"clients must be >= 1, got {clients}")
    slice_seconds = min(slice_seconds, seconds_per_method)
    names = list(methods)
    client_ms: dict[str, list[float]] = {n: [] for n in names}
    server_ms: dict[str, list[float]] = {n: [] for n in names}
    elapsed: dict[str, float] = dict.fromkeys(names, 0.0)
    slices = max(1, round(seconds_per_method / slice_seconds))
    errors: list[BaseException] = []
    for s in range(slices):
        for name in names if s % 2 == 0 else reversed(names):
            method, counter, lock = methods[name], [s * 7919], threading.Lock()
            stop_at = time.perf_counter() + slice_seconds
            times: list[float] = []
            tooks: list[float] = []

            def work(method: Method = method, counter: list[int] = counter, lock: threading.Lock = lock,
                     stop_at: float = stop_at, times: list[float] = times, tooks: list[float] = tooks) -> None:
                try:
                    while time.perf_counter() < stop_at:
                        with lock:
                            i = counter[0] % num_queries
                            counter[0] += 1
                        start = time.perf_counter()
                        took = method(i)
                        times.append((time.perf_counter() - start) * 1000.0)
                        if isinstance(took, (int, float)):
                            tooks.append(float(took))
                except BaseException as exc:  # noqa: BLE001 - reported after join
                    errors.append(exc)

            threads = [threading.Thread(target=work, daemon=True) for _ in range(clients)]
            begin = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed[name] += time.perf_counter() - begin
            client_ms[name].extend(times)
            server_ms[name].extend(tooks)
            if errors:
                raise BackendError(f"{name} failed under {clients} clients: {errors[0]}") from errors[0]
    return [
        ThroughputStats(n, clients, len(client_ms[n]), elapsed[n], len(client_ms[n]) / elapsed[n],
                        _percentiles(client_ms[n]), _percentiles(server_ms[n]) if server_ms[n] else None)
        for n in names
    ]


def compare_latency(
    methods: Mapping[str, Method],
    num_queries: int,
    *,
    baseline: str = "BM25",
    clients: Sequence[int] = (1, 4),
    warmup: int = 20,
    max_requests: int | None = None,
    max_seconds: float = 60.0,
    seconds_per_method: float = 10.0,
) -> LatencyComparison:
    """Single-client interleaved latency, then throughput at each of ``clients`` (> 1)."""
    if baseline not in methods:
        raise ConfigError(f"baseline {baseline!r} is not one of the methods {sorted(methods)}")
    before = environment()
    latency = measure_interleaved(methods, num_queries, warmup=warmup, max_requests=max_requests,
                                  max_seconds=max_seconds)
    throughput: list[ThroughputStats] = []
    for n in clients:
        throughput += measure_throughput(methods, num_queries, n, seconds_per_method=seconds_per_method)
    env = {**before, "loadavg_after": list(os.getloadavg())}
    return LatencyComparison(latency, throughput, baseline, env)


# ---- methods ------------------------------------------------------------------------


def backend_methods(
    backend: Backend,
    texts: Sequence[str],
    vectors: Sequence[SparseVector] | Callable[[int], SparseVector],
    *,
    k: int = 100,
    sparse_name: str = "inference-free sparse",
) -> dict[str, Method]:
    """BM25 and sparse search through the ``Backend`` protocol; each returns the engine's ``took_ms``.

    ``vectors`` is either the query vectors, or a function encoding query ``i`` on each
    call (so that query encoding counts in the sparse latency).
    """
    encode = vectors if callable(vectors) else vectors.__getitem__

    def sparse(i: int) -> float:
        return backend.search_sparse(encode(i), k).took_ms

    def bm25(i: int) -> float:
        return backend.search_bm25(texts[i], k).took_ms

    return {"BM25": bm25, sparse_name: sparse}
