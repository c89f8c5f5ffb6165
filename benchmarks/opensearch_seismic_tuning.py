"""OpenSearch SEISMIC query parameters (``top_n``, ``heap_factor``) on held-out queries 300-499.

    python -m benchmarks.opensearch_seismic_tuning --corpus synthetic-100k

Starts the local benchmark node (port 9270) and reuses the indexes ``benchmarks.latency``
built there (a missing or differently built one is built). For each grid point it reports
recall@10 against exact ``rank_features`` search and the query phase from the search slow
log (``OpenSearchSetup.server_times``), next to BM25's and two-phase's on the same queries.
``benchmarks.latency`` measures queries 0-299, so nothing here is tuned on measured queries.
Prints a table and writes ``results/opensearch-seismic-tuning-<corpus>.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
from pathlib import Path
from typing import Any

from sparsedoc.cli.logs import setup_logging
from sparsedoc.cli.tables import format_table
from sparsedoc.plugin.latency_bench import environment
from sparsedoc.plugin.opensearch.node.local import LocalOpenSearchNode
from sparsedoc.plugin.opensearch.client import open_client

from .datasets import write_result
from .engines import OpenSearchSetup
from .latency import CORPORA, TUNED_SEISMIC, load_dataset, recall_at_10

TUNING = slice(300, 500)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="synthetic-100k", choices=CORPORA)
    parser.add_argument("--out", type=Path, default=Path("runs/bench"))
    parser.add_argument("--results", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--top-n", default="3,5,10")
    parser.add_argument("--heap-factor", default="0.5,0.7,0.9,1.0")
    parser.add_argument("--port", type=int, default=9270)
    parser.add_argument("--heap", default="2g")
    args = parser.parse_args(argv)
    setup_logging(1, quiet_libraries=True)

    full = load_dataset(args.corpus, args.out)
    dataset = dataclasses.replace(full, query_ids=full.query_ids[TUNING], query_texts=full.query_texts[TUNING],
                                  query_vectors=full.query_vectors[TUNING])
    n = len(dataset.query_texts)
    if not n:
        raise SystemExit(f"{full.name} has no queries beyond position {TUNING.start}")
    grid = [{"top_n": int(t), "heap_factor": float(h)}
            for t, h in itertools.product(args.top_n.split(","), args.heap_factor.split(","))]
    node = LocalOpenSearchNode(port=args.port, heap=args.heap)
    try:
        client = open_client(node.start(timeout=300), timeout=120)
        slowlog = next(node.logs_dir.glob("*_index_search_slowlog.log"))
        setup = OpenSearchSetup(client, dataset, [], seismic_build=TUNED_SEISMIC.get(args.corpus, [None])[0])
        methods, top, specs = setup.methods(10, [], grid)
        for i in range(n):  # one warm pass over every method, as benchmarks.latency's interleaved pass does
            for method in methods.values():
                method(i)
        recall = recall_at_10(top, n)
        times = setup.server_times(specs, 10, n, slowlog)
    finally:
        node.stop()
    base = times["BM25"]
    rows = [{"method": name, "recall_at_10": 1.0 if name == "exact sparse" else recall.get(name),
             **t, "p50_x_bm25": t["p50_ms"] / base["p50_ms"], "p99_x_bm25": t["p99_ms"] / base["p99_ms"]}
            for name, t in times.items()]
    print(f"{full.name}: queries {TUNING.start}-{TUNING.start + n - 1}, query phase from the slow log (ms)")
    print(format_table(["method", "R@10 vs exact", "p50 ms", "p99 ms", "p50 x", "p99 x"], [
        [r["method"], "-" if r["recall_at_10"] is None else r["recall_at_10"], r["p50_ms"], r["p99_ms"],
         r["p50_x_bm25"], r["p99_x_bm25"]] for r in rows]))
    write_result(args.results / f"opensearch-seismic-tuning-{full.name}.json", {
        "corpus": full.name, "queries": f"{TUNING.start}-{TUNING.start + n - 1}", "rows": rows,
        "machine": environment(),
        "command": " ".join(["python -m benchmarks.opensearch_seismic_tuning", *(argv or sys.argv[1:])])})
    return 0


if __name__ == "__main__":
    sys.exit(main())
