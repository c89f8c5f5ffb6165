"""Collect ``benchmarks/results/latency-<corpus>-<engine>.json`` (one or several runs) into tables and plots.

    python -m benchmarks.report [--out benchmarks/results]

Prints Markdown tables (for ``benchmarks/README.md``) and redraws ``tradeoff-<corpus>.png``
with every engine measured for that corpus.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .latency import plot_tradeoff


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return "-" if value is None else str(value)


def markdown(result: dict[str, Any]) -> str:
    comparison = result["comparison"]
    lines = [f"**{result['corpus']}** ({result['documents']} docs), {result['engine']}, k={result['k']}, "
             f"{result['queries']} queries, load average {comparison['environment']['loadavg'][0]:.1f}",
             "",
             "| method | p50 ms | p95 ms | p99 ms | p50 x BM25 | p99 x BM25 | engine p50/p99 ms | engine p50/p99 x BM25 "
             "| R@10 vs exact |",
             "|---|---|---|---|---|---|---|---|---|"]
    # engine time: OpenSearch's query phase (search slow log, µs precision) or the embedded search's thread CPU time
    engine = result.get("server_query_ms") or {
        name: stats["server"] for name, stats in comparison["latency"].items()
        if result["engine"] == "lucene" and stats["server"]}
    base = engine.get("BM25")
    for name, stats in comparison["latency"].items():
        c = stats["client"]
        ratios = comparison["ratios"][name]
        recall = 1.0 if name == "exact sparse" else result["recall_at_10"].get(name)
        mine = engine.get(name)
        times = f"{mine['p50_ms']:.3f} / {mine['p99_ms']:.3f}" if mine else "-"
        x = f"{mine['p50_ms'] / base['p50_ms']:.2f} / {mine['p99_ms'] / base['p99_ms']:.2f}" if mine and base else "-"
        lines.append(f"| {name} | {c['p50_ms']:.2f} | {c['p95_ms']:.2f} | {c['p99_ms']:.2f} | "
                     f"{ratios['p50_ms']:.2f} | {ratios['p99_ms']:.2f} | {times} | {x} | {_fmt(recall)} |")
    if result.get("k100"):
        k100 = result["k100"]
        parts = [f"{n}: p50 {v['client']['p50_ms']:.2f} / p99 {v['client']['p99_ms']:.2f} ms"
                 for n, v in k100["latency"].items()]
        ratio = k100["ratios"]["exact sparse k=100"]
        lines += ["", f"k=100: {'; '.join(parts)} (sparse/BM25 p50 {ratio['p50_ms']:.2f}, p99 {ratio['p99_ms']:.2f})"]
    tp = comparison["throughput"]
    if tp:
        qps = {(t["name"], t["clients"]): t["qps"] for t in tp}
        cells = [f"{c} client(s): BM25 {qps[('BM25', c)]:.0f} QPS, sparse {qps[('exact sparse', c)]:.0f} QPS "
                 f"({qps[('exact sparse', c)] / qps[('BM25', c)]:.2f}x)"
                 for c in sorted({t["clients"] for t in tp})]
        lines += ["", "Throughput: " + "; ".join(cells)]
        base = next((t["server"] for t in tp if t["name"] == "BM25" and t["clients"] == 1 and t.get("server")), None)
        sliced = [f"{t['name']} {t['server']['p50_ms']:.3f} / {t['server']['p99_ms']:.3f} ms "
                  f"({t['server']['p50_ms'] / base['p50_ms']:.2f}x / {t['server']['p99_ms'] / base['p99_ms']:.2f}x)"
                  for t in tp if t["clients"] == 1 and t.get("server")] if base and result["engine"] == "lucene" else []
        if sliced:
            lines += ["", "Time slices, 1 client, thread CPU p50 / p99 (x BM25): " + "; ".join(sliced)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args(argv)
    files = [json.loads(p.read_text()) for p in sorted(args.out.glob("latency-*.json"))]
    results = [f for f in files if "engine" in f]  # per-engine results, not the run summaries
    by_corpus: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        by_corpus.setdefault(result["corpus"], []).append(result)
        print(markdown(result), end="\n\n")
    for corpus, group in by_corpus.items():
        plot_tradeoff(group, args.out / f"tradeoff-{corpus}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
