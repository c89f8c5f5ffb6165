"""The README's relevance table in one command: BM25, untrained, adapted and hybrid on every collection.

For each BEIR folder: ``sparsedoc eval`` with the untrained SPLADE-tiny (BM25, inference-free, hybrid rows),
``sparsedoc adapt`` on the folder's documents only (pseudo-queries, no labels, never the test queries),
then ``sparsedoc eval`` with the adapted model. Prints one table and writes JSON::

    python -m benchmarks.relevance ../shared/data/cranfield ../shared/data/scifact ../shared/data/cisi \\
        --steps 60 --max-queries 300

Everything is cached under ``--workdir`` (re-running resumes). Adaptation defaults to the SPLADE-tiny + BM25
teachers: the MiniLM dense teacher is the stronger one but costs minutes per thousand candidates on 2 cores
(``--dense`` adds it).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from sparsedoc.cli.tables import format_table
from sparsedoc.encoder.assets import fetch_asset

RESULTS = Path(__file__).resolve().parent / "results" / "relevance.json"


def _sparsedoc(*arguments: str) -> None:
    command = [sys.executable, "-m", "sparsedoc.cli.main", *arguments]
    print("+ sparsedoc " + " ".join(arguments), file=sys.stderr, flush=True)
    subprocess.run(command, check=True)


def _methods(results: Path) -> dict[str, dict[str, float]]:
    (collection,) = json.loads(results.read_text())["collections"]
    return {m["name"]: m["metrics"] for m in collection["methods"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="+", type=Path)
    parser.add_argument("--workdir", type=Path, default=Path("runs/relevance"))
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--max-queries", type=int, default=300)
    parser.add_argument("--dense", action="store_true", help="add the MiniLM dense teacher (slow on CPU)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    splade = fetch_asset("splade-tiny")
    teachers = [f"sparse:splade-tiny:{splade}", "bm25:bm25"]
    if args.dense:
        teachers.insert(0, f"dense:minilm:{fetch_asset('all-MiniLM-L6-v2')}")
    rows, summary = [], []
    for dataset in args.datasets:
        name = dataset.name
        base = args.workdir / "untrained"
        _sparsedoc("eval", str(dataset), "--model", str(splade), "--workdir", str(base),
                   "--out", str(base / f"{name}.json"))
        adapt_dir = args.workdir / f"adapt-{name}"
        _sparsedoc("adapt", str(dataset), "--workdir", str(adapt_dir), "--steps", str(args.steps),
                   "--max-queries", str(args.max_queries), "--no-eval", "--no-progress",
                   *[part for spec in teachers for part in ("--teacher", spec)])
        adapted = args.workdir / "adapted"
        _sparsedoc("eval", str(dataset), "--model", str(adapt_dir / "model"), "--workdir", str(adapted),
                   "--out", str(adapted / f"{name}.json"))
        before, after = _methods(base / f"{name}.json"), _methods(adapted / f"{name}.json")
        entry = {"collection": name, "bm25": before["BM25"]["nDCG@10"],
                 "untrained": before["inference-free sparse"]["nDCG@10"],
                 "adapted": after["inference-free sparse"]["nDCG@10"],
                 "hybrid_untrained": before["hybrid"]["nDCG@10"], "hybrid_adapted": after["hybrid"]["nDCG@10"]}
        summary.append(entry)
        rows.append([name, *(entry[key] for key in list(entry)[1:]),
                     f"{entry['hybrid_untrained'] / entry['bm25'] - 1:+.1%}"])
    print(format_table(["collection", "BM25", "untrained", "adapted", "hybrid (untrained)", "hybrid (adapted)",
                        "hybrid vs BM25"], rows))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"steps": args.steps, "max_queries": args.max_queries, "teachers": teachers,
                                    "collections": summary}, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
