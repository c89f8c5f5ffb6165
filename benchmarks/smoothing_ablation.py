"""Dense-neighbour smoothing settings side by side on every collection (embedded Lucene, test queries).

For each BEIR folder and each setting: index SPLADE-tiny's vectors smoothed that way (dense
embeddings, raw vectors and each smoothed file are cached in ``--workdir``), then BM25,
inference-free and hybrid (default fusion) nDCG@10, with postings per document. Prints one table
and writes JSON::

    python -m benchmarks.smoothing_ablation ../shared/data/cranfield ../shared/data/scifact ../shared/data/cisi

The settings are reported, not chosen here: choosing one per corpus is ``sparsedoc adapt``'s job
(held-out pseudo-queries, no labels).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from sparsedoc.cli.environment import jvm_settings
from sparsedoc.cli.options import DEFAULT_ENCODER_OPTIONS, build_document_encoder, encoder_settings
from sparsedoc.cli.tables import format_table
from sparsedoc.encoder.assets import fetch_asset
from sparsedoc.ingest.evaluation import BM25, HYBRID, SPARSE, evaluate_beir
from sparsedoc.ingest.index_build import SmoothingPlan
from sparsedoc.ingest.readers import BeirDataset
from sparsedoc.ingest.smoothing import Smoothing
from sparsedoc.ingest.workspace import Workspace
from sparsedoc.plugin.lucene.backend import LuceneBackend

RESULTS = Path(__file__).resolve().parent / "results" / "smoothing_ablation.json"
SETTINGS = (
    Smoothing(),
    Smoothing(neighbours=3, weight=1.0),
    Smoothing(neighbours=3, weight=2.0),
    Smoothing(neighbours=3, weight=1.0, max_growth=None),
    Smoothing(neighbours=3, weight=1.0, variant="expansion"),
    Smoothing(neighbours=3, weight=1.0, variant="max"),
    Smoothing(neighbours=10, weight=1.0),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="+", type=Path)
    parser.add_argument("--workdir", type=Path, default=Path("runs/smoothing"))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    model, dense = fetch_asset("splade-tiny"), fetch_asset("all-MiniLM-L6-v2")
    rows: list[list[object]] = []
    results = []
    for path in args.datasets:
        dataset = BeirDataset.open(path)
        workspace = Workspace(args.workdir / dataset.name)
        for smoothing in SETTINGS:
            plan = SmoothingPlan(smoothing, dense, workspace.embeddings_dir(dense)) if smoothing.enabled else None
            started = time.perf_counter()
            with LuceneBackend(workspace.root / workspace.index_name(smoothing), jvm=jvm_settings()) as backend:
                report = evaluate_beir(
                    dataset, backend, workspace, model_dir=model,
                    document_encoder=lambda: build_document_encoder(model, DEFAULT_ENCODER_OPTIONS),
                    encoder_settings=encoder_settings(DEFAULT_ENCODER_OPTIONS), smoothing=plan,
                    backend_label="lucene", show_progress=True)
            scores = {name: report.method(name).metrics["nDCG@10"] for name in (BM25, SPARSE, HYBRID)}
            nonzeros = report.document_sparsity["mean_nonzeros"]
            results.append({"collection": dataset.name, "smoothing": smoothing.to_dict(),
                            "describe": smoothing.describe(), "ndcg@10": scores, "mean_nonzeros": nonzeros,
                            "seconds": time.perf_counter() - started})
            rows.append([dataset.name, smoothing.describe(), scores[BM25], scores[SPARSE], scores[HYBRID],
                         f"{scores[SPARSE] / scores[BM25] - 1:+.1%}", f"{scores[HYBRID] / scores[BM25] - 1:+.1%}",
                         f"{nonzeros:.0f}"])
            print(format_table(["collection", "smoothing", "BM25", "sparse", "hybrid", "sparse/BM25",
                                "hybrid/BM25", "tokens/doc"], rows), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"model": "splade-tiny", "dense_model": "all-MiniLM-L6-v2",
                                    "results": results}, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
