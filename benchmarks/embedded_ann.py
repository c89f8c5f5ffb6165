"""Which approximate sparse library to embed: SEISMIC (``pyseismic-lsr``) vs Block-Max Pruning (``bmp``).

Run from the repository root::

    python -m benchmarks.embedded_ann                          # synthetic 100k
    python -m benchmarks.embedded_ann --corpus realtext-100k   # SPLADE-tiny vectors of real text

Both libraries index the same vectors; each setting answers the same queries, one at a
time, single-threaded, through the library's own Python call (no sparsedoc wrapper).
Recall@10 is against an exact dot-product top 10 (numpy, float32). Prints one table and
writes ``benchmarks/results/embedded-ann-<corpus>.json``.

BMP stores document weights as 8-bit integers (values above 255 wrap around), so weights
are scaled by ``255 / max weight`` before indexing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sparsedoc.cli.tables import format_table
from sparsedoc.plugin.latency_bench import environment

from .latency import CORPORA, load_dataset

BMP_SETTINGS = [(1.0, 1.0), (0.9, 1.0), (0.8, 1.0)]  # (alpha, beta)
HEAP_FACTORS = [0.7, 0.8, 0.9, 1.0]


def _exact_top10(docs: list[Any], queries: list[Any]) -> list[set[str]]:
    import scipy.sparse as sp

    vocab: dict[str, int] = {}
    rows, cols, vals = [], [], []
    for i, doc in enumerate(docs):
        for token, weight in doc.vector.items():
            rows.append(i)
            cols.append(vocab.setdefault(token, len(vocab)))
            vals.append(weight)
    matrix = sp.csr_matrix((vals, (rows, cols)), shape=(len(docs), len(vocab)), dtype=np.float32)
    out = []
    for query in queries:
        q = np.zeros(len(vocab), np.float32)
        for token, weight in query.items():
            if token in vocab:
                q[vocab[token]] = weight
        scores = matrix @ q
        out.append({docs[j].doc_id for j in np.argsort(-scores)[:10] if scores[j] > 0})
    return out


def _measure(search: Callable[[int], list[str]], exact: list[set[str]]) -> dict[str, float]:
    """Recall@10 and latency of ``search(i)`` over queries ``0 .. len(exact)-1`` (after 20 warm-up calls)."""
    for i in range(min(20, len(exact))):
        search(i)
    found, times = [], []
    for i in range(len(exact)):
        start = time.perf_counter()
        ids = search(i)
        times.append((time.perf_counter() - start) * 1000.0)
        found.append(set(ids))
    recall = np.mean([len(e & f) / len(e) for e, f in zip(exact, found) if e])
    return {"recall_at_10": float(recall), "p50_ms": float(np.percentile(times, 50)),
            "p99_ms": float(np.percentile(times, 99)), "mean_ms": float(np.mean(times))}


def run_seismic(docs: list[Any], queries: list[Any], exact: list[set[str]], n_postings: list[int]
                ) -> list[dict[str, Any]]:
    import seismic

    string = seismic.get_seismic_string()
    dataset = seismic.SeismicDataset()
    for doc in docs:
        dataset.add_document(doc.doc_id, np.array(list(doc.vector), dtype=string),
                             np.array(list(doc.vector.values()), dtype=np.float32))
    prepared = [(np.array(list(q), dtype=string), np.array(list(q.values()), dtype=np.float32)) for q in queries]
    rows = []
    for n in n_postings:
        start = time.perf_counter()
        index = seismic.SeismicIndex.build_from_dataset(dataset, n_postings=n, centroid_fraction=0.1,
                                                        summary_energy=0.4, num_threads=0)
        build = time.perf_counter() - start
        for heap_factor in HEAP_FACTORS:
            def search(i: int, hf: float = heap_factor) -> list[str]:
                tokens, values = prepared[i]
                return [hit[2] for hit in index.search("q", tokens, values, k=10, query_cut=10, heap_factor=hf)]

            rows.append({"library": "seismic", "setting": f"n_postings={n} heap_factor={heap_factor}",
                         "build_s": build, **_measure(search, exact)})
    return rows


def run_bmp(docs: list[Any], queries: list[Any], exact: list[set[str]], folder: Path) -> list[dict[str, Any]]:
    import bmp

    top = max(max(doc.vector.values(), default=0.0) for doc in docs)
    scale = 255.0 / top
    folder.mkdir(parents=True, exist_ok=True)
    path = str(folder / "index.bmp")
    start = time.perf_counter()
    indexer = bmp.Indexer(path, bsize=32, compress_range=False)
    for doc in docs:
        indexer.add_document(doc.doc_id, {t: max(1, min(255, round(w * scale))) for t, w in doc.vector.items()})
    indexer.finish()
    build = time.perf_counter() - start
    searcher = bmp.Searcher(path)
    prepared = [dict(q.items()) for q in queries]
    rows = []
    for alpha, beta in BMP_SETTINGS:
        def search(i: int, a: float = alpha, b: float = beta) -> list[str]:
            return list(searcher.search(prepared[i], k=10, alpha=a, beta=b)[0])

        rows.append({"library": "bmp", "setting": f"alpha={alpha} beta={beta}", "build_s": build,
                     **_measure(search, exact)})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="synthetic-100k", choices=CORPORA)
    parser.add_argument("--out", type=Path, default=Path("runs/bench"))
    parser.add_argument("--results", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--n-postings", default="1000,3000", help="SEISMIC build settings to try.")
    args = parser.parse_args(argv)
    dataset = load_dataset(args.corpus, args.out)
    docs = list(dataset.documents())
    queries = [q for q in dataset.query_vectors[: args.queries] if q]
    exact = _exact_top10(docs, queries)
    before = environment()
    rows = run_bmp(docs, queries, exact, args.out / "indexes" / dataset.name / "bmp")
    rows += run_seismic(docs, queries, exact, [int(n) for n in args.n_postings.split(",")])
    print(f"== {dataset.name}: {len(docs)} documents, {len(queries)} queries, k=10, one thread, load {before['loadavg']}")
    print(format_table(["library", "setting", "build s", "R@10", "p50 ms", "p99 ms"], [
        [r["library"], r["setting"], r["build_s"], r["recall_at_10"], r["p50_ms"], r["p99_ms"]] for r in rows]))
    args.results.mkdir(parents=True, exist_ok=True)
    out = args.results / f"embedded-ann-{dataset.name}.json"
    out.write_text(json.dumps({"corpus": dataset.name, "documents": len(docs), "queries": len(queries),
                               "environment": {**before, "loadavg_after": environment()["loadavg"]},
                               "command": " ".join(["python -m benchmarks.embedded_ann", *(argv or sys.argv[1:])]),
                               "rows": rows}, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
