"""Query latency: BM25 vs inference-free sparse (exact and approximate), Lucene and OpenSearch.

Run from the repository root::

    python -m benchmarks.latency                     # Cranfield + synthetic 100k, both engines
    python -m benchmarks.latency --with-1m           # also the 1M-document synthetic corpus
    python -m benchmarks.latency --engines lucene --corpora scifact,realtext-100k

For each corpus and engine, every method runs in ONE interleaved single-client pass (the
order alternating per query), then BM25 and exact sparse (on Lucene also SEISMIC) run under
N concurrent clients in alternating 2 s time slices, where each method has the caches to itself
(interleaving per query evicts one method's working set with the others'). Approximate methods get recall@10 against exact sparse on the
same engine; OpenSearch methods also get server-side times from the profile API. Writes
``<results>/latency.json`` (``run-latency-<corpora>-<engines>.json`` for other choices),
``<results>/latency-<corpus>-<engine>.json`` and ``<results>/tradeoff-<corpus>.png``
(``benchmarks/results/``); data and indexes go to ``<out>`` (``runs/bench/``); prints tables. OpenSearch runs on a local node this
script starts on 127.0.0.1:<port> (``sparsedoc.plugin.opensearch.node.local``) and stops at the end,
or on ``--url`` (nothing is started or stopped then).
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sparsedoc.cli.tables import format_table
from sparsedoc.plugin.latency_bench import ROW_HEADERS, LatencyComparison, compare_latency, environment
from sparsedoc.cli.logs import setup_logging

from sparsedoc.plugin.approximate import Seismic, TwoPhase
from sparsedoc.plugin.lucene.reorder import Reordering

from .datasets import SYNTHETIC_SIZES, Dataset, cranfield_dataset, synthetic_dataset
from .engines import LuceneSetup, OpenSearchSetup, Top10

logger = logging.getLogger("benchmarks.latency")


CORPORA = ("cranfield", "scifact", *SYNTHETIC_SIZES, "realtext-100k")

TUNED_SEISMIC = {
    "synthetic-100k": [Seismic(n_postings=200, query_cut=5, heap_factor=1.0),
                       Seismic(n_postings=200, query_cut=8, heap_factor=0.9)],
    "realtext-100k": [Seismic(n_postings=500, centroid_fraction=0.2, summary_energy=0.8, query_cut=8, heap_factor=1.0),
                      Seismic(n_postings=500, centroid_fraction=0.2, summary_energy=0.8, query_cut=10, heap_factor=0.9)],
    "synthetic-1m": [Seismic(n_postings=2000, query_cut=5, heap_factor=1.0),
                     Seismic(n_postings=2000, query_cut=8, heap_factor=0.9)],
}
"""Embedded SEISMIC settings per corpus, chosen by ``python -m benchmarks.seismic_tuning`` on
queries 300-499 (this script measures 0-299); synthetic-1m takes synthetic-100k's settings
with ``n_postings`` scaled by corpus size (the same share of each posting list), untuned.
Settings of one corpus share their build parameters, so one SEISMIC index serves them all;
other corpora get ``Seismic()``."""


def load_dataset(corpus: str, out: Path) -> Dataset:
    """One of ``CORPORA`` (real-text ones are encoded once into ``~/.cache/sparsedoc/bench``)."""
    from .realtext import REALTEXT_SIZES, realtext_dataset, scifact_dataset

    if corpus == "cranfield":
        return cranfield_dataset(out)
    if corpus == "scifact":
        return scifact_dataset()
    if corpus in REALTEXT_SIZES:
        return realtext_dataset(corpus)
    if corpus in SYNTHETIC_SIZES:
        return synthetic_dataset(corpus, out)
    raise SystemExit(f"unknown corpus {corpus!r}; choose from {', '.join(CORPORA)}")


def recall_at_10(top: dict[str, Top10], num_queries: int) -> dict[str, float]:
    """Mean overlap of each approximate method's top 10 with exact sparse's top 10."""
    exact = [set(top["exact sparse"](i)) for i in range(num_queries)]
    out = {}
    for name, fn in top.items():
        if name == "exact sparse":
            continue
        total = 0.0
        for i in range(num_queries):
            if exact[i]:
                total += len(exact[i] & set(fn(i))) / len(exact[i])
        out[name] = total / max(1, sum(1 for e in exact if e))
    return out


def run_engine(engine: str, setup: Any, dataset: Dataset, args: argparse.Namespace) -> dict[str, Any]:
    n = min(args.queries, len(dataset.query_texts))
    server = None
    if engine == "lucene":
        methods, top = setup.methods(args.k, args.query_keep)
    else:
        methods, top, specs = setup.methods(args.k, args.query_keep, args.seismic)
    recall = recall_at_10(top, min(n, args.recall_queries))
    comparison = compare_latency(methods, n, clients=(), max_requests=n, max_seconds=args.max_seconds)
    if engine != "lucene" and args.slowlog:  # after the interleaved pass: every method's caches are warm
        server = setup.server_times(specs, args.k, min(n, args.server_queries), args.slowlog)
    sliced = ("BM25", "exact sparse", *(name for name in methods if engine == "lucene" and "SEISMIC" in name))
    throughput = compare_latency({name: methods[name] for name in sliced}, n, clients=args.clients, warmup=0,
                                 max_requests=1, seconds_per_method=args.throughput_seconds).throughput
    comparison.throughput = throughput
    k100 = None
    if args.k != 100:
        if engine == "lucene":
            methods100, _ = setup.methods(100, [])
        else:
            methods100, _, _ = setup.methods(100, [], [])
        pair100 = {f"{name} k=100": methods100[name] for name in ("BM25", "exact sparse")}
        k100 = compare_latency(pair100, n, baseline="BM25 k=100", clients=(), max_requests=n,
                               max_seconds=args.max_seconds / 2)
    result = {
        "engine": engine, "corpus": dataset.name, "documents": dataset.num_documents, "queries": n, "k": args.k,
        "comparison": comparison.to_dict(), "recall_at_10": recall, "server_query_ms": server,
        "k100": k100.to_dict() if k100 else None,
        "index_build_seconds": setup.build_seconds,
    }
    _print(engine, dataset, comparison, recall, k100, server)
    return result


def _print(engine: str, dataset: Dataset, comparison: LatencyComparison, recall: dict[str, float],
           k100: LatencyComparison | None, server: dict[str, dict[str, float]] | None) -> None:
    print(f"\n== {dataset.name} ({dataset.num_documents} docs), {engine}, load {comparison.environment['loadavg']}")
    rows = [row + [recall.get(str(row[0]), 1.0 if row[0] == "exact sparse" else "-")] for row in comparison.rows()]
    print(format_table([*ROW_HEADERS, "R@10 vs exact"], rows))
    if engine == "lucene":
        print("CPU time of the searching thread (the engine's work without waits for a core), ms")
        print(format_table(["method", "p50 ms", "p99 ms", "p50 x", "p99 x"], [
            [name, s.server["p50_ms"], s.server["p99_ms"], comparison.ratio(name, "p50_ms", server=True),
             comparison.ratio(name, "p99_ms", server=True)] for name, s in comparison.latency.items() if s.server]))
    if server:
        base = server["BM25"]
        print("server side (query phase from the search slow log, ms)")
        print(format_table(["method", "p50 ms", "p99 ms", "p50 x", "p99 x"], [
            [name, t["p50_ms"], t["p99_ms"], t["p50_ms"] / base["p50_ms"], t["p99_ms"] / base["p99_ms"]]
            for name, t in server.items()]))
    if k100:
        print(format_table(ROW_HEADERS, k100.rows()))
    print("Time slices (each method alone for 2 s, alternating; warm caches); engine = thread CPU ms (Lucene)")
    # engine columns: Lucene's thread CPU time; OpenSearch's ``took`` is whole milliseconds (often 0)
    base = {t.clients: t.server for t in comparison.throughput if t.name == "BM25"} if engine == "lucene" else {}
    tp = [[t.name, t.clients, t.requests, t.qps, t.client["p50_ms"], t.client["p99_ms"],
           comparison.qps_ratio(t.name, t.clients), *_engine_ratios(t.server, base.get(t.clients))]
          for t in comparison.throughput]
    print(format_table(["method", "clients", "requests", "QPS", "p50 ms", "p99 ms", "QPS x BM25", "engine p50 ms",
                        "engine p99 ms", "engine p50 x", "engine p99 x"], tp))


def _engine_ratios(mine: dict[str, float] | None, base: dict[str, float] | None) -> list[float | str]:
    if not mine or not base:
        return ["-"] * 4
    return [mine["p50_ms"], mine["p99_ms"], mine["p50_ms"] / base["p50_ms"], mine["p99_ms"] / base["p99_ms"]]


def plot_tradeoff(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for result, marker in zip(results, "os^D"):
        ratios = result["comparison"]["ratios"]
        names = [n for n in ratios if not n.startswith("BM25")]  # BM25 itself, and on the BP copy
        xs = [1.0 if n == "exact sparse" else result["recall_at_10"][n] for n in names]
        ys = [ratios[n]["p50_ms"] for n in names]
        ax.scatter(xs, ys, marker=marker, label=result["engine"])
        for x, y, name in zip(xs, ys, names):
            ax.annotate(name, (x, y), fontsize=6, xytext=(3, 2), textcoords="offset points")
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.axvline(0.95, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("recall@10 relative to exact sparse")
    ax.set_ylabel("p50 latency / BM25 p50 (client side)")
    ax.set_title(f"{results[0]['corpus']}: latency vs recall (k={results[0]['k']})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/bench"), help="Data and indexes.")
    parser.add_argument("--results", type=Path, default=Path("benchmarks/results"), help="JSON and plots.")
    parser.add_argument("--corpora", default="cranfield,synthetic-100k",
                        help=f"Comma-separated, from {', '.join(CORPORA)}.")
    parser.add_argument("--with-1m", action="store_true", help="Add the 1M-document synthetic corpus (slow).")
    parser.add_argument("--engines", default="lucene,opensearch")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--queries", type=int, default=300, help="Queries per interleaved pass.")
    parser.add_argument("--recall-queries", type=int, default=200)
    parser.add_argument("--max-seconds", type=float, default=90.0, help="Cap on each interleaved pass.")
    parser.add_argument("--clients", default="1,4", help="Concurrent clients for the QPS runs.")
    parser.add_argument("--throughput-seconds", type=float, default=6.0, help="Per method and client count.")
    parser.add_argument("--ingest-prune", default="0.1,0.3", help="max_ratio values for ingest-time pruning.")
    parser.add_argument("--query-keep", default="3,5", help="Keep this many highest-IDF query tokens.")
    parser.add_argument("--url", help="Use this OpenSearch instead of starting a local node.")
    parser.add_argument("--port", type=int, default=9270, help="Port of the local node this script starts.")
    parser.add_argument("--heap", default="2g")
    parser.add_argument("--node-data", type=Path, help="Data folder of the local node (default: its own).")
    parser.add_argument("--no-seismic", action="store_true", help="Skip SEISMIC on both engines.")
    parser.add_argument("--no-bp", action="store_true", help="Skip the BP-reordered copy of the Lucene index.")
    parser.add_argument("--server-queries", type=int, default=200,
                        help="OpenSearch queries per method for server-side times (the local node's search slow log).")
    args = parser.parse_args(argv)
    setup_logging(1, quiet_libraries=True)
    args.clients = [int(c) for c in args.clients.split(",") if c]
    args.query_keep = [int(c) for c in args.query_keep.split(",") if c]
    prune = [float(r) for r in args.ingest_prune.split(",") if r]
    args.seismic = [] if args.no_seismic else [{"top_n": n, "heap_factor": 1.0} for n in (5, 10, 30)]
    corpora = [c for c in args.corpora.split(",") if c] + (["synthetic-1m"] if args.with_1m else [])
    engines = [e for e in args.engines.split(",") if e]
    args.out.mkdir(parents=True, exist_ok=True)
    args.results.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    node = client = args.slowlog = None  # server-side times need the slow log of a node started here
    results: list[dict[str, Any]] = []
    try:
        if "opensearch" in engines:
            from sparsedoc.plugin.opensearch.client import open_client

            url = args.url
            if not url:
                from sparsedoc.plugin.opensearch.node.local import LocalOpenSearchNode

                node = LocalOpenSearchNode(port=args.port, heap=args.heap, data_dir=args.node_data)
                url = node.start(timeout=300)
                args.slowlog = next(node.logs_dir.glob("*_index_search_slowlog.log"), None)
            client = open_client(url, timeout=120, pool_maxsize=max(args.clients) + 2)
        for corpus in corpora:
            dataset = load_dataset(corpus, args.out)
            per_corpus = []
            for engine in engines:
                if engine == "lucene":
                    seismic = [] if args.no_seismic else TUNED_SEISMIC.get(corpus, [Seismic()])
                    setup: Any = LuceneSetup(dataset, args.out / "indexes", prune, seismic=seismic,
                                             two_phase=[TwoPhase()], reorder=None if args.no_bp else Reordering())
                else:
                    tuned = TUNED_SEISMIC.get(corpus, [None])[0]
                    setup = OpenSearchSetup(client, dataset, prune, seismic=bool(args.seismic), seismic_build=tuned)
                result = run_engine(engine, setup, dataset, args)
                if engine == "lucene":
                    setup.close()
                (args.results / f"latency-{corpus}-{engine}.json").write_text(json.dumps(result, indent=1))
                per_corpus.append(result)
            plot_tradeoff(per_corpus, args.results / f"tradeoff-{corpus}.png")
            results += per_corpus
    finally:
        if node is not None:
            node.stop()
    summary = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {**environment(), "platform": platform.platform(), "python": platform.python_version()},
        "command": " ".join(["python -m benchmarks.latency", *(argv if argv is not None else sys.argv[1:])]),
        "seconds": time.perf_counter() - started,
        "results": results,
    }
    default = args.corpora == parser.get_default("corpora") and args.engines == parser.get_default("engines")
    name = "latency.json" if default else f"run-latency-{'-'.join(corpora)}-{'-'.join(engines)}.json"
    (args.results / name).write_text(json.dumps(summary, indent=1))
    print(f"\nwrote {args.results / name} ({summary['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
