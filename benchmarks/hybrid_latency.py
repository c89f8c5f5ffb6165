"""Hybrid search latency against BM25 and sparse on the embedded Lucene backend (issue 10: hybrid <= 2x BM25).

Measures what ``sparsedoc eval`` / ``quickstart`` report: client-side wall time per query,
the three methods interleaved per query after an untimed warm-up
(``sparsedoc.ingest.evaluation.compare_methods``; sparse and hybrid include query encoding),
k=100, min-max fusion with the default sparse weight, each sub-query's top ``max(100, k)``.
The whole query set runs ``--passes`` times; the table shows each pass and the JSON keeps
them all, with the load average before and after. On a loaded machine only the ratios
within a pass are comparable. It searches the index and IDF table a ``sparsedoc eval``
run left in its workspace (``--workdir``); run that first.

    python -m benchmarks.hybrid_latency --dataset ../shared/data/cranfield \\
        --workdir runs/eval-splade-tiny/cranfield
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

from sparsedoc.cli.environment import jvm_settings
from sparsedoc.cli.tables import format_table
from sparsedoc.encoder.assets import fetch_asset
from sparsedoc.encoder.idf_query_encoder import IdfQueryEncoder
from sparsedoc.ingest.evaluation import BM25, METHODS, compare_methods
from sparsedoc.ingest.readers import BeirDataset
from sparsedoc.ingest.workspace import Workspace
from sparsedoc.plugin.lucene.backend import LuceneBackend

from .datasets import SHARED_DATA, write_result

STATS = ("p50_ms", "p95_ms", "p99_ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=SHARED_DATA / "cranfield")
    parser.add_argument("--workdir", type=Path, default=Path("runs/eval-splade-tiny/cranfield"))
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--passes", type=int, default=3, help="timed passes over all judged queries")
    parser.add_argument("--label", default="", help="a name for this run in the JSON (e.g. a commit)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/hybrid_latency.json"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    model = fetch_asset("splade-tiny")
    dataset = BeirDataset.open(args.dataset)
    workspace = Workspace(args.workdir)
    if not (workspace.root / "index").is_dir():
        parser.error(f"no index in {workspace.root}: pass a dataset's folder under a 'sparsedoc eval --workdir W' "
                     "(W/<dataset>), or run that first")
    encoder = IdfQueryEncoder.from_files(model, workspace.idf_path)
    queries, qrels = dataset.judged_queries("test")
    load_before = os.getloadavg()
    passes = []
    with LuceneBackend(workspace.root / "index", jvm=jvm_settings()) as backend:
        for _ in range(args.passes):
            results = compare_methods(backend, encoder, queries, qrels, k=args.k)
            passes.append({r.name: {"latency": r.latency, "ratio_to_bm25": r.latency_ratio_to_bm25} for r in results})
    load_after = os.getloadavg()

    rows = [[i + 1, name, *(p[name]["latency"][s] for s in STATS), *(p[name]["ratio_to_bm25"][s] for s in STATS)]
            for i, p in enumerate(passes) for name in METHODS]
    print(f"{dataset.name}: {len(queries)} queries x {args.passes} passes, k={args.k}, embedded Lucene; "
          f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after")
    print(format_table(["pass", "method", *STATS, *(f"{s[:3]} / {BM25}" for s in STATS)], rows))
    result = {"dataset": dataset.name, "queries": len(queries), "k": args.k, "label": args.label,
              "load_average": {"before": load_before, "after": load_after}, "cpus": os.cpu_count(),
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "passes": passes}
    write_result(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
