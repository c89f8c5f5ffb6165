"""Where exact sparse search spends its time on embedded Lucene, next to BM25 (issue 12 profile).

Run from the repository root (after ``benchmarks.latency`` built the indexes)::

    python -m benchmarks.lucene_profile --corpora realtext-100k,synthetic-100k

Per corpus and index (plain, and the BP-reordered copy where it exists), over the first
``--queries`` benchmark queries, one at a time in this thread (thread CPU ms, medians and
p99 over queries):

* **clauses**: sparse query tokens vs BM25's analysed terms; **postings**: the sum of
  their document frequencies (what an exhaustive search reads); **head %**: the share of
  those postings in terms found in over a tenth of the documents; **dropped**: sparse query
  tokens that BM25's English analyser turns into nothing (stopwords, punctuation);
* **time** split: the whole ``search_*`` call, building the query (Python -> Java),
  ``IndexSearcher.search`` alone (one JNI call), and an exhaustive search (a collector that
  counts every hit, so nothing is skipped): pruned / exhaustive is what block-max skipping saves.

Lucene's own query profiler (``lucene-sandbox``) is not used: it wraps every clause's
scorer, which replaces the ``MaxScoreBulkScorer`` of real searches, so it scores every
posting and cannot show skipping.

Prints one table per corpus and writes ``benchmarks/results/lucene-profile.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from sparsedoc.cli.environment import jvm_settings
from sparsedoc.cli.tables import format_table
from sparsedoc.plugin.latency_bench import environment

from .latency import load_dataset

_MAX_INT = 2**31 - 1  # a total-hits threshold that is never reached: every hit counted


def _cpu_ms(fn: Any) -> float:
    start = time.thread_time()
    fn()
    return (time.thread_time() - start) * 1000.0


def _terms(query: Any) -> list[Any]:
    """The ``Term`` of every clause of a bag-of-words ``BooleanQuery`` (boosted or not)."""
    from jnius import cast

    out = []
    for clause in cast("org.apache.lucene.search.BooleanQuery", query).clauses().toArray():
        inner = cast("org.apache.lucene.search.BooleanClause", clause).getQuery()
        if inner.getClass().getName().endswith(".BoostQuery"):
            inner = cast("org.apache.lucene.search.BoostQuery", inner).getQuery()
        out.append(cast("org.apache.lucene.search.TermQuery", inner).getTerm())
    return out


def profile_index(backend: Any, texts: list[str], vectors: list[Any], rounds: int) -> dict[str, Any]:
    """The measurements listed in the module docstring, for one index."""
    from jnius import autoclass

    backend.count()  # opens the reader
    reader, impact, bm25 = backend._reader, backend._impact_searcher, backend._bm25_searcher
    collector = autoclass("org.apache.lucene.search.TopScoreDocCollector")
    analyze = autoclass("io.anserini.analysis.AnalyzerUtils").analyze
    tenth = reader.numDocs() / 10
    out: dict[str, Any] = {}
    for name, searcher, build, search_call, inputs in (
        ("sparse", impact, backend._build_sparse, backend.search_sparse, vectors),
        ("BM25", bm25, lambda text: backend._build_bm25(text)[0], backend.search_bm25, texts),
    ):
        queries = [build(q) for q in inputs]
        terms = [_terms(q) for q in queries]
        names = ("whole call", "build query", "IndexSearcher.search", "exhaustive search")
        rows: dict[str, list[float]] = {k: [] for k in names}
        for round_ in range(rounds + 1):
            if round_ == 1:  # round 0 warmed the JIT and caches up: drop it
                rows = {k: [] for k in names}
            for q, lucene_query in zip(inputs, queries):
                rows["whole call"].append(_cpu_ms(lambda: search_call(q, 10)))
                rows["build query"].append(_cpu_ms(lambda: build(q)))
                rows["IndexSearcher.search"].append(_cpu_ms(lambda: searcher.search(lucene_query, 11)))
                rows["exhaustive search"].append(_cpu_ms(
                    lambda: searcher.search(lucene_query, collector.createSharedManager(11, None, _MAX_INT))))
        freqs = [[reader.docFreq(t) for t in ts] for ts in terms]
        dropped = [sum(1 for t in q if analyze(backend._queries.analyzer, t.removeprefix("##")).isEmpty())
                   for q in vectors] if name == "sparse" else [0]
        out[name] = {
            "clauses": float(np.median([len(t) for t in terms])),
            "dropped": float(np.median(dropped)),
            "postings": float(np.median([sum(f) for f in freqs])),
            "head %": float(np.median([100.0 * sum(x for x in f if x > tenth) / max(1, sum(f)) for f in freqs])),
            **{f"{k} p50": float(np.percentile(v, 50)) for k, v in rows.items()},
            **{f"{k} p99": float(np.percentile(v, 99)) for k, v in rows.items()},
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", default="realtext-100k,synthetic-100k")
    parser.add_argument("--out", type=Path, default=Path("runs/bench"))
    parser.add_argument("--results", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    from sparsedoc.plugin.lucene.backend import LuceneBackend

    results: dict[str, Any] = {}
    for corpus in [c for c in args.corpora.split(",") if c]:
        dataset = load_dataset(corpus, args.out)
        texts, vectors = dataset.query_texts[: args.queries], dataset.query_vectors[: args.queries]
        for variant in ("lucene-exact", "lucene-exact-bp"):
            path = args.out / "indexes" / dataset.name / variant
            if not path.is_dir():
                continue
            with LuceneBackend(path, jvm=jvm_settings()) as backend:
                results[f"{corpus} {variant}"] = profile_index(backend, texts, vectors, args.rounds)
        keys = list(next(iter(results.values()))["sparse"])
        print(f"\n== {corpus}: {len(texts)} queries, medians over queries (thread CPU ms; counts per query)")
        print(format_table(["index", "method", *keys], [
            [name.split(" ", 1)[1], method, *[row[k] for k in keys]]
            for name, per in results.items() if name.startswith(corpus) for method, row in per.items()]))
    args.results.mkdir(parents=True, exist_ok=True)
    target = args.results / "lucene-profile.json"
    target.write_text(json.dumps({"environment": environment(), "results": results,
                                  "command": " ".join(["python -m benchmarks.lucene_profile",
                                                       *(argv if argv is not None else sys.argv[1:])])}, indent=1))
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
