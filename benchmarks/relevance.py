"""The README's relevance table in one command: BM25, inference-free, smoothed, adapted and hybrid, every collection.

For each BEIR folder (test queries only; nothing is tuned on them):

1. ``sparsedoc eval --neighbours 0``: BM25, inference-free SPLADE-tiny and hybrid rows;
2. ``sparsedoc eval --neighbours auto``: the same with dense-neighbour smoothing chosen per corpus on
   held-out pseudo-queries (no labels);
3. ``sparsedoc adapt``: pseudo-queries of the folder's own documents, dense (MiniLM) + sparse + BM25
   teachers, the start and every checkpoint scored on held-out pseudo-queries and the best kept, then
   its smoothing chosen the same way;
4. ``sparsedoc eval`` of the adapted model (with the smoothing recorded with it).

Prints one table and writes JSON::

    python -m benchmarks.relevance ../shared/data/cranfield ../shared/data/scifact ../shared/data/cisi

``--model DIR --no-adapt`` scores a trained model the same way (steps 1 and 2), e.g. a training-ablation
student; ``--embeddings-from`` reuses the dense embeddings an earlier run cached per collection.

Everything is cached under ``--workdir`` (re-running resumes); the dense embeddings of a corpus are
computed once and copied into the later work folders.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from sparsedoc.cli.tables import format_table
from sparsedoc.encoder.assets import fetch_asset

RESULTS = Path(__file__).resolve().parent / "results" / "relevance.json"
DENSE_FOLDER = "dense-all-MiniLM-L6-v2"


def _sparsedoc(*arguments: str) -> None:
    command = [sys.executable, "-m", "sparsedoc.cli.main", *arguments]
    print("+ sparsedoc " + " ".join(arguments), file=sys.stderr, flush=True)
    subprocess.run(command, check=True)


def _ndcg(results: Path) -> dict[str, float]:
    (collection,) = json.loads(results.read_text())["collections"]
    return {m["name"]: m["metrics"]["nDCG@10"] for m in collection["methods"]} | {
        "smoothing": collection.get("smoothing", "none"),
        "tokens": collection["document_sparsity"]["mean_nonzeros"]}


def _share_embeddings(source: Path, target: Path) -> None:
    """Copy a corpus' cached dense embeddings into another work folder of the same corpus."""
    if (source / DENSE_FOLDER).is_dir() and not (target / DENSE_FOLDER).exists():
        target.mkdir(parents=True, exist_ok=True)
        shutil.copytree(source / DENSE_FOLDER, target / DENSE_FOLDER)


def _corpus_idf(dataset: Path, model: Path, path: Path) -> Path:
    """The collection's own IDF table with ``model``'s tokenizer (written once)."""
    if not path.is_file():
        from sparsedoc.encoder.idf import compute_idf, save_idf
        from sparsedoc.encoder.loading import load_tokenizer
        from sparsedoc.ingest.readers import read_documents

        texts = (d.content for d in read_documents(dataset / "corpus.jsonl"))
        save_idf(compute_idf(texts, load_tokenizer(model)), path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="+", type=Path)
    parser.add_argument("--workdir", type=Path, default=Path("runs/relevance"))
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--max-queries", type=int, default=1000)
    parser.add_argument("--no-adapt", action="store_true", help="leave out steps 3 and 4")
    parser.add_argument("--model", type=Path, help="the document model to score (default: SPLADE-tiny)")
    parser.add_argument("--corpus-idf", action="store_true",
                        help="weight queries by each collection's own IDF even if the model carries idf.json")
    parser.add_argument("--embeddings-from", type=Path,
                        help="a workdir's 'untrained' folder whose cached dense embeddings to reuse")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    splade = args.model or fetch_asset("splade-tiny")
    rows, summary = [], []
    for dataset in args.datasets:
        name, started = dataset.name, time.perf_counter()
        base = args.workdir / "untrained"
        if args.embeddings_from:
            _share_embeddings(args.embeddings_from / name, base / name)
        idf = ["--idf", str(_corpus_idf(dataset, splade, base / f"{name}-corpus-idf.json"))] if args.corpus_idf else []
        _sparsedoc("eval", str(dataset), "--model", str(splade), "--workdir", str(base), "--neighbours", "0",
                   *idf, "--out", str(base / f"{name}.json"))
        _sparsedoc("eval", str(dataset), "--model", str(splade), "--workdir", str(base), "--neighbours", "auto",
                   *idf, "--out", str(base / f"{name}-smoothed.json"))
        plain, smoothed = _ndcg(base / f"{name}.json"), _ndcg(base / f"{name}-smoothed.json")
        entry = {"collection": name, "bm25": plain["BM25"], "inference_free": plain["inference-free sparse"],
                 "smoothed": smoothed["inference-free sparse"], "smoothing": smoothed["smoothing"],
                 "hybrid": plain["hybrid"], "hybrid_smoothed": smoothed["hybrid"],
                 "tokens": plain["tokens"], "tokens_smoothed": smoothed["tokens"]}
        if not args.no_adapt:
            adapt_dir = args.workdir / f"adapt-{name}"
            _share_embeddings(base / name, adapt_dir / "eval-after")
            _sparsedoc("adapt", str(dataset), "--workdir", str(adapt_dir), "--steps", str(args.steps),
                       "--max-queries", str(args.max_queries), "--no-eval", "--no-progress")
            adapted_dir = args.workdir / "adapted"
            _share_embeddings(base / name, adapted_dir / name)
            _sparsedoc("eval", str(dataset), "--model", str(adapt_dir / "model"), "--workdir", str(adapted_dir),
                       "--out", str(adapted_dir / f"{name}.json"))
            adapted = _ndcg(adapted_dir / f"{name}.json")
            best = json.loads((adapt_dir / "best.json").read_text())
            entry |= {"adapted": adapted["inference-free sparse"], "hybrid_adapted": adapted["hybrid"],
                      "adapted_smoothing": adapted["smoothing"], "kept_step": best["kept_step"],
                      "heldout_history": best["history"]}
        entry["seconds"] = time.perf_counter() - started
        summary.append(entry)
        rows.append([name, entry["bm25"], entry["inference_free"], entry["smoothed"], entry.get("adapted", "-"),
                     entry["hybrid"], entry["hybrid_smoothed"], entry.get("hybrid_adapted", "-"),
                     f"{max(entry['hybrid_smoothed'], entry['hybrid']) / entry['bm25'] - 1:+.1%}"])
        print(format_table(["collection", "BM25", "inference-free", "smoothed (auto)", "adapted (kept best)",
                            "hybrid", "hybrid smoothed", "hybrid adapted", "best hybrid vs BM25"], rows), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"model": str(splade), "steps": args.steps, "max_queries": args.max_queries,
                                    "teachers": "MiniLM dense + SPLADE-tiny sparse + BM25 (adapt's default)",
                                    "collections": summary}, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
