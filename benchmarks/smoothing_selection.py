"""Which smoothing ``choose_smoothing`` picks per collection, on pseudo-queries only (no labels).

Reads the cached workspaces of ``benchmarks.smoothing_ablation`` (run it first) and prints, per
collection, every candidate's MRR@10 on held-out pseudo-queries and the choice::

    python -m benchmarks.smoothing_selection ../shared/data/cranfield ../shared/data/scifact ../shared/data/cisi

Compare the choice with the ablation's test-query rows: a selector that picks the test winner on
every collection without seeing a test query is what ``adapt`` needs.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from sparsedoc.cli.options import DEFAULT_ENCODER_OPTIONS, build_document_encoder
from sparsedoc.cli.tables import format_table
from sparsedoc.encoder.assets import fetch_asset
from sparsedoc.encoder.dense_encoder import DenseEncoder
from sparsedoc.encoder.idf_query_encoder import IdfQueryEncoder
from sparsedoc.ingest.embeddings_store import EmbeddingsStore
from sparsedoc.ingest.readers import BeirDataset
from sparsedoc.ingest.smoothing_selection import choose_smoothing
from sparsedoc.ingest.vectors_file import read_encoded
from sparsedoc.ingest.workspace import Workspace

RESULTS = Path(__file__).resolve().parent / "results" / "smoothing_selection.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="+", type=Path)
    parser.add_argument("--workdir", type=Path, default=Path("runs/smoothing"))
    parser.add_argument("--sample", type=int, default=300)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    model, dense_dir = fetch_asset("splade-tiny"), fetch_asset("all-MiniLM-L6-v2")
    dense = DenseEncoder(dense_dir)
    encoder = build_document_encoder(model, DEFAULT_ENCODER_OPTIONS)
    results = []
    for path in args.datasets:
        dataset = BeirDataset.open(path)
        workspace = Workspace(args.workdir / dataset.name)
        started = time.perf_counter()
        embeddings = EmbeddingsStore(workspace.embeddings_dir(dense_dir), dense.fingerprint).load()
        vectors = {d.doc_id: d.vector for d in read_encoded(workspace.vectors_path)}
        choice = choose_smoothing(list(dataset.documents()), vectors, embeddings, document_encoder=encoder,
                                  embed=dense.encode, query_encoder=IdfQueryEncoder.from_files(model, workspace.idf_path),
                                  sample=args.sample)
        seconds = time.perf_counter() - started
        print(f"{dataset.name}: {choice.queries} pseudo-queries, {seconds:.0f} s")
        print(format_table(["smoothing", "MRR@10", "tokens/doc", "chosen"], choice.table()), flush=True)
        results.append({"collection": dataset.name, "queries": choice.queries, "seconds": seconds,
                        "chosen": choice.chosen.to_dict(),
                        "candidates": [{"smoothing": s.smoothing.to_dict(), "mrr@10": s.mrr_at_10,
                                        "mean_tokens": s.mean_tokens} for s in choice.scores]})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"sample": args.sample, "results": results}, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
