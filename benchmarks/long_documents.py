"""Long documents: nDCG@10 of truncation vs overlapping max-pooled windows at several strides.

Documents that fit in one window are encoded identically in both modes, so every corpus is
encoded once with truncation and only the long documents are re-encoded per stride. Queries
are inference-free IDF vectors (the model's idf.json, else IDF over the corpus) and ranking is
exact (``exact_search``), so runs differ only in the long documents' vectors. Choose on the
train split where there is one (SciFact: 809 queries); the test split is reported, not tuned on.
Prints a table and writes JSON.

    python -m benchmarks.long_documents --model-dir ~/.cache/sparsedoc/models/splade-tiny \
        --dataset ../shared/data/scifact --dataset ../shared/data/cranfield \
        --dataset ../shared/data/cisi --strides 510,384,256,128
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from sparsedoc.cli.logs import setup_logging
from sparsedoc.cli.tables import format_table
from sparsedoc.encoder.exact_search import exact_search
from sparsedoc.encoder.idf import compute_idf, load_idf
from sparsedoc.encoder.idf_query_encoder import IdfQueryEncoder
from sparsedoc.encoder.metrics import evaluate_run
from sparsedoc.encoder.torch_doc_encoder import TorchDocumentEncoder
from sparsedoc.ingest.readers import BeirDataset


def evaluate_dataset(root: Path, model_dir: Path, strides: list[int], args: argparse.Namespace) -> list[dict[str, Any]]:
    """Rows of (dataset, split, mode, stride, nDCG@10, long documents) for one BEIR folder."""
    dataset = BeirDataset.open(root)
    docs = list(dataset.documents())
    doc_ids, texts = [d.doc_id for d in docs], [d.content for d in docs]
    encoder = TorchDocumentEncoder(model_dir, max_length=args.max_length, batch_size=args.batch_size,
                                   num_threads=args.threads)
    idf = load_idf(model_dir / "idf.json") if (model_dir / "idf.json").is_file() else compute_idf(texts, encoder.tokenizer)
    start = time.perf_counter()
    base = dict(zip(doc_ids, encoder.encode_document(texts)))
    long_ids = [d for d, t in zip(doc_ids, texts) if len(encoder.tokenizer(t)["input_ids"]) > encoder.max_length]
    print(f"{dataset.name}: {len(docs)} documents, {len(long_ids)} longer than {encoder.max_length} tokens "
          f"(encoded in {time.perf_counter() - start:.0f}s)", file=sys.stderr)
    variants: dict[tuple[str, int | None], dict[str, Any]] = {("truncate", None): base}
    by_id = dict(zip(doc_ids, texts))
    for stride in strides if long_ids else []:
        windows = TorchDocumentEncoder(model_dir, max_length=args.max_length, batch_size=args.batch_size,
                                       num_threads=args.threads, long_documents="windows", window_stride=stride)
        vectors = windows.encode_document([by_id[d] for d in long_ids])
        variants[("windows", stride)] = {**base, **dict(zip(long_ids, vectors))}
    query_encoder = IdfQueryEncoder(encoder.tokenizer, idf)
    queries = {q.query_id: q.text for q in dataset.queries()}
    rows = []
    for split in [s for s in ("train", "dev", "test") if (dataset.root / "qrels" / f"{s}.tsv").is_file()]:
        qrels = dataset.qrels(split)
        judged = [q for q in queries if q in qrels]
        query_vectors = dict(zip(judged, query_encoder.encode_query([queries[q] for q in judged])))
        for (mode, stride), vectors in variants.items():
            run = exact_search(query_vectors, vectors, k=100)
            ndcg = evaluate_run(run, qrels, ["nDCG@10"])["nDCG@10"]
            rows.append({"dataset": dataset.name, "split": split, "queries": len(judged), "mode": mode,
                         "stride": stride, "ndcg@10": round(ndcg, 4), "documents": len(docs),
                         "long_documents": len(long_ids)})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--dataset", type=Path, action="append", required=True, help="BEIR folder (repeatable)")
    parser.add_argument("--strides", default="510,384,256,128", help="window strides in tokens, comma-separated")
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("runs/bench/long_documents.json"))
    args = parser.parse_args(argv)
    setup_logging(0)
    strides = [int(s) for s in args.strides.split(",") if s]
    rows = [row for root in args.dataset for row in evaluate_dataset(root, args.model_dir, strides, args)]
    print(format_table(["dataset", "split", "queries", "mode", "stride", "nDCG@10", "long docs"],
                       [[r["dataset"], r["split"], r["queries"], r["mode"], r["stride"] or "-", f"{r['ndcg@10']:.4f}",
                         f"{r['long_documents']}/{r['documents']}"] for r in rows]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"model_dir": str(args.model_dir), "max_length": args.max_length,
                                    "results": rows}, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
