"""Choose embedded SEISMIC settings on TUNING queries, disjoint from the ones the latency benchmark measures.

Run from the repository root::

    python -m benchmarks.seismic_tuning --corpus realtext-100k
    python -m benchmarks.seismic_tuning --corpus synthetic-100k --n-postings 300,500,1000

``benchmarks.latency`` measures each corpus' queries ``0 .. 299`` (recall on ``0 .. 199``);
this script tunes on queries ``300 .. 499`` only. For each build setting (``n_postings``,
``centroid_fraction``, ``summary_energy``) it builds one SEISMIC index of the corpus, then
answers the tuning queries under every query setting (``query_cut``, ``heap_factor``)
through ``SeismicSidecar``-equivalent library calls, one at a time in this thread. Recall@10
is against an exact dot-product top 10; latency is thread CPU time, next to Lucene BM25's
on the same queries (the plain exact index that ``benchmarks.latency`` builds). The chosen
setting is the cheapest (p50 + p99) with recall >= ``--min-recall``. Prints a table, writes
``benchmarks/results/seismic-tuning-<corpus>.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from sparsedoc.cli.environment import jvm_settings
from sparsedoc.cli.tables import format_table
from sparsedoc.plugin.latency_bench import environment

from .embedded_ann import _exact_top10
from .latency import CORPORA, load_dataset

TUNING = slice(300, 500)
"""Query positions used for tuning: ``benchmarks.latency`` measures positions 0-299."""


def _cpu(search: Any, count: int, rounds: int = 2) -> tuple[list[list[str]], float, float]:
    """Run ``search(i)`` for every query ``rounds`` times after a warm-up round; the last round's ids, p50 and
    p99 thread-CPU ms."""
    for i in range(count):
        search(i)
    times: list[float] = []
    found: list[list[str]] = []
    for _ in range(rounds):
        found = []
        for i in range(count):
            start = time.thread_time()
            found.append(search(i))
            times.append((time.thread_time() - start) * 1000.0)
    return found, float(np.percentile(times, 50)), float(np.percentile(times, 99))


def _bm25_cpu(dataset: Any, out: Path, texts: list[str]) -> tuple[float, float]:
    from sparsedoc.plugin.lucene.backend import LuceneBackend

    with LuceneBackend(out / "indexes" / dataset.name / "lucene-exact", jvm=jvm_settings()) as backend:
        _, p50, p99 = _cpu(lambda i: backend.search_bm25(texts[i], 10).doc_ids, len(texts), rounds=3)
    return p50, p99


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="realtext-100k", choices=CORPORA)
    parser.add_argument("--out", type=Path, default=Path("runs/bench"))
    parser.add_argument("--results", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--n-postings", default="500,1000,2000")
    parser.add_argument("--centroid-fraction", default="0.1")
    parser.add_argument("--summary-energy", default="0.4")
    parser.add_argument("--nknn", type=int, default=0, help="Build a k-NN graph of this many neighbours (0: none).")
    parser.add_argument("--n-knn", default="0", help="Query-time k-NN refinement (needs --nknn).")
    parser.add_argument("--query-cut", default="3,5,8,10,15,20")
    parser.add_argument("--heap-factor", default="0.7,0.8,0.9,1.0")
    parser.add_argument("--min-recall", type=float, default=0.96, help="Margin over the 0.95 target.")
    parser.add_argument("--suffix", default="", help="Appended to the results file name (one file per grid).")
    args = parser.parse_args(argv)
    import seismic

    floats = lambda text: [float(x) for x in text.split(",") if x]  # noqa: E731
    dataset = load_dataset(args.corpus, args.out)
    docs = list(dataset.documents())
    queries, texts = dataset.query_vectors[TUNING], dataset.query_texts[TUNING]
    if not queries:
        raise SystemExit(f"{dataset.name} has no queries beyond position {TUNING.start}")
    exact = _exact_top10(docs, queries)
    bm25 = _bm25_cpu(dataset, args.out, texts)
    string = seismic.get_seismic_string()
    data = seismic.SeismicDataset()
    for doc in docs:
        if doc.vector:
            data.add_document(doc.doc_id, np.array(list(doc.vector), dtype=string),
                              np.array(list(doc.vector.values()), dtype=np.float32))
    prepared = [(np.array(list(q), dtype=string), np.array(list(q.values()), dtype=np.float32)) for q in queries]
    rows: list[dict[str, Any]] = []
    builds = itertools.product([int(n) for n in floats(args.n_postings)], floats(args.centroid_fraction),
                               floats(args.summary_energy))
    for n_postings, fraction, energy in builds:
        start = time.perf_counter()
        index = seismic.SeismicIndex.build_from_dataset(data, n_postings=n_postings, centroid_fraction=fraction,
                                                        summary_energy=energy, nknn=args.nknn, num_threads=0)
        build = time.perf_counter() - start
        for cut, heap, knn in itertools.product([int(c) for c in floats(args.query_cut)], floats(args.heap_factor),
                                                [int(n) for n in floats(args.n_knn)]):
            def search(i: int, c: int = cut, h: float = heap, n: int = knn) -> list[str]:
                return [hit[2] for hit in index.search("q", *prepared[i], k=11, query_cut=c, heap_factor=h,
                                                       n_knn=n)][:10]

            found, p50, p99 = _cpu(search, len(queries))
            recall = float(np.mean([len(e & set(f)) / len(e) for e, f in zip(exact, found) if e]))
            rows.append({"n_postings": n_postings, "centroid_fraction": fraction, "summary_energy": energy,
                         "nknn": args.nknn, "query_cut": cut, "heap_factor": heap, "n_knn": knn, "build_s": build, "recall_at_10": recall,
                         "p50_ms": p50, "p99_ms": p99, "p50_x_bm25": p50 / bm25[0], "p99_x_bm25": p99 / bm25[1]})
        print(f"built n_postings={n_postings} centroid_fraction={fraction} summary_energy={energy} in {build:.0f} s",
              flush=True)
    ok = [r for r in rows if r["recall_at_10"] >= args.min_recall]
    chosen = min(ok, key=lambda r: r["p50_ms"] + r["p99_ms"]) if ok else None
    print(f"== {dataset.name}: {len(docs)} documents, tuning queries {TUNING.start}-{TUNING.stop - 1} "
          f"({len(queries)}), k=10, thread CPU ms; BM25 p50 {bm25[0]:.3f} / p99 {bm25[1]:.3f}")
    keys = ["n_postings", "centroid_fraction", "summary_energy", "nknn", "query_cut", "heap_factor", "n_knn", "build_s",
            "recall_at_10", "p50_ms", "p99_ms", "p50_x_bm25", "p99_x_bm25"]
    print(format_table(keys, [[r[k] for k in keys] for r in rows if r["recall_at_10"] >= 0.9]))
    print(f"chosen (recall >= {args.min_recall}, least p50 + p99): {chosen}")
    args.results.mkdir(parents=True, exist_ok=True)
    target = args.results / f"seismic-tuning-{dataset.name}{args.suffix}.json"
    target.write_text(json.dumps({
        "corpus": dataset.name, "documents": len(docs), "tuning_queries": [TUNING.start, TUNING.stop],
        "bm25_cpu_ms": {"p50": bm25[0], "p99": bm25[1]}, "environment": environment(), "chosen": chosen,
        "command": " ".join(["python -m benchmarks.seismic_tuning", *(argv if argv is not None else sys.argv[1:])]),
        "rows": rows}, indent=1))
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
