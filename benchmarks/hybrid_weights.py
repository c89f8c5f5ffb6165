"""Choose hybrid search's default sparse weight on SciFact's labelled TRAINING queries (never test ones).

Min-max fusion (``sparsedoc.plugin.fusion``) weighs BM25 by ``1 - w`` and sparse by ``w``.
This script evaluates a small grid of ``w`` on the 809 queries judged in SciFact's
``qrels/train.tsv`` (``queries.jsonl`` holds train and test queries; only train ones are
run), embedded Lucene, SPLADE-tiny documents and inference-free IDF queries, and reports
the ``w`` with the best nDCG@10. BM25 alone, sparse alone and RRF are shown for reference.
The dataset's vectors and index are the ones ``sparsedoc eval`` caches (same workspace).

    python benchmarks/hybrid_weights.py --dataset ../shared/data/scifact \\
        --workdir runs/eval-splade-tiny/scifact --out benchmarks/results/hybrid_weights.json
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from sparsedoc.cli.environment import jvm_settings
from sparsedoc.cli.options import DEFAULT_ENCODER_OPTIONS, build_document_encoder, encoder_settings
from sparsedoc.cli.tables import format_table
from sparsedoc.encoder.assets import fetch_asset
from sparsedoc.encoder.metrics import evaluate_run
from sparsedoc.ingest.evaluation import prepare_dataset
from sparsedoc.ingest.index_build import SmoothingPlan
from sparsedoc.ingest.readers import BeirDataset
from sparsedoc.ingest.smoothing import Smoothing
from sparsedoc.ingest.workspace import Workspace
from sparsedoc.plugin.fusion import Fusion
from sparsedoc.plugin.lucene.backend import LuceneBackend

GRID = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
MEASURES = ("nDCG@10", "R@100", "RR@10")
ENCODER = DEFAULT_ENCODER_OPTIONS  # `sparsedoc eval`'s defaults, so its cached vectors are reused


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact")
    parser.add_argument("--workdir", type=Path, default=Path("runs/eval-splade-tiny/scifact"))
    parser.add_argument("--split", default="train", help="qrels split to choose on (never the test split)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/hybrid_weights.json"))
    parser.add_argument("--neighbours", type=int, default=0, help="dense-neighbour smoothing: K (0: off)")
    parser.add_argument("--neighbour-weight", type=float, default=1.0)
    parser.add_argument("--neighbour-variant", default="additive")
    args = parser.parse_args(argv)
    if args.split == "test":
        parser.error("choosing a default on test queries would leak them into the reported numbers")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    model = fetch_asset("splade-tiny")
    dataset = BeirDataset.open(args.dataset)
    workspace = Workspace(args.workdir)
    queries, qrels = dataset.judged_queries(args.split)
    rows: list[dict[str, object]] = []
    smoothing = Smoothing(args.neighbours, args.neighbour_weight, args.neighbour_variant)
    dense = fetch_asset("all-MiniLM-L6-v2")
    plan = SmoothingPlan(smoothing, dense, workspace.embeddings_dir(dense)) if smoothing.enabled else None
    with LuceneBackend(workspace.root / workspace.index_name(smoothing), jvm=jvm_settings()) as backend:
        encoder, _, _ = prepare_dataset(dataset, backend, workspace, model_dir=model,
                                        document_encoder=lambda: build_document_encoder(model, ENCODER),
                                        encoder_settings=encoder_settings(ENCODER), smoothing=plan,
                                        show_progress=True)
        vectors = dict(zip((q.query_id for q in queries), encoder.encode_query([q.text for q in queries])))

        def score(name: str, search) -> None:  # noqa: ANN001
            run = {q.query_id: search(q).scores() for q in queries}
            rows.append({"method": name, **evaluate_run(run, qrels, MEASURES)})

        score("BM25", lambda q: backend.search_bm25(q.text, 100))
        score("inference-free sparse", lambda q: backend.search_sparse(vectors[q.query_id], 100))
        for weight in GRID:
            fusion = Fusion(sparse_weight=weight)
            score(f"hybrid {fusion.describe()}", lambda q, f=fusion: backend.search_hybrid(q.text, vectors[q.query_id], 100, f))
        rrf = Fusion("rrf")
        score(f"hybrid {rrf.describe()}", lambda q: backend.search_hybrid(q.text, vectors[q.query_id], 100, rrf))
    grid_rows = rows[2:2 + len(GRID)]
    best = max(range(len(GRID)), key=lambda i: (grid_rows[i]["nDCG@10"], -i))
    print(f"{dataset.name} {args.split} split: {len(queries)} judged queries, {len(GRID)} weights, "
          f"smoothing {smoothing.describe()}")
    print(format_table(["method", *MEASURES], [[r["method"], *(r[m] for m in MEASURES)] for r in rows]))
    print(f"chosen sparse weight: {GRID[best]} (best nDCG@10 on {args.split} queries)")
    result = {"dataset": dataset.name, "split": args.split, "queries": len(queries), "model": str(model),
              "smoothing": smoothing.to_dict(),
              "grid": list(GRID), "chosen_sparse_weight": GRID[best], "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
