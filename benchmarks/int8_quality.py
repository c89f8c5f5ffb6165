"""Int8 quality gate on a BEIR dataset: nDCG@10 of the int8 ONNX model vs the fp32 one.

Exports the checkpoint (unless ``--onnx-dir`` holds an export), quantises it, encodes the
corpus with both, and retrieves exactly with IDF query vectors computed on the corpus.
Also reports the mean overlap of each document's top-10 tokens under int8 and fp32, and
how many documents keep exactly the same top-10 set. Exits 1, with a loud message on
stderr, when int8 loses more than ``--max-drop``.

    python benchmarks/int8_quality.py --model-dir ~/.cache/sparsedoc/models/splade-tiny \
        --dataset ../shared/data/cranfield --out runs/bench/int8_quality.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from sparsedoc.encoder.onnx_doc_encoder import OnnxDocumentEncoder
from sparsedoc.encoder.onnx_export import export_onnx
from sparsedoc.encoder.onnx_quantize import (DEFAULT_MAX_NDCG_DROP, compare_quantized_quality, quantize_int8,
                                             top_token_agreement)
from sparsedoc.ingest.readers import BeirDataset
from sparsedoc.cli.logs import setup_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--onnx-dir", type=Path, help="existing fp32 export (default: export to a temp dir)")
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-drop", type=float, default=DEFAULT_MAX_NDCG_DROP)
    parser.add_argument("--per-channel", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--out", type=Path, default=Path("runs/bench/int8_quality.json"))
    args = parser.parse_args(argv)
    setup_logging(1, quiet_libraries=True)

    dataset = BeirDataset.open(args.dataset)
    documents = {d.doc_id: d.text for d in dataset.documents()}
    queries = {q.query_id: q.text for q in dataset.queries()}
    qrels = dataset.qrels("test")
    with tempfile.TemporaryDirectory() as scratch:
        fp32_dir = args.onnx_dir or Path(scratch) / "fp32"
        if args.onnx_dir is None:
            export_onnx(args.model_dir, fp32_dir, max_length=args.max_length)
        int8_dir = Path(scratch) / "int8"
        quantize_int8(fp32_dir, int8_dir, per_channel=args.per_channel)
        options = dict(batch_size=args.batch_size, num_threads=args.threads, max_length=args.max_length)
        fp32, int8 = OnnxDocumentEncoder(fp32_dir, **options), OnnxDocumentEncoder(int8_dir, **options)
        start = time.perf_counter()
        quality = compare_quantized_quality(fp32, int8, documents, queries, qrels, max_drop=args.max_drop)
        seconds = time.perf_counter() - start
        texts = list(documents.values())
        fp32_vectors, int8_vectors = fp32.encode_document(texts), int8.encode_document(texts)
    same_top10 = sum(top_token_agreement([a], [b], k=10) == 1.0 for a, b in zip(fp32_vectors, int8_vectors))
    result = {**asdict(quality), "delta": quality.delta, "passed": quality.passed, "dataset": dataset.name,
              "top10_agreement": round(top_token_agreement(fp32_vectors, int8_vectors, k=10), 4),
              "documents_same_top10": same_top10,
              "per_channel": args.per_channel, "max_length": args.max_length, "seconds": round(seconds, 1)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"{dataset.name}: nDCG@10 fp32 {quality.fp32_ndcg:.4f}  int8 {quality.int8_ndcg:.4f}  "
          f"delta {quality.delta:+.4f}  ({'PASS' if quality.passed else 'FAIL'}, max drop {args.max_drop}); top-10 "
          f"tokens: mean overlap {result['top10_agreement']:.3f}, same set in {same_top10} of {len(texts)} documents")
    if not quality.passed:
        print(f"INT8 QUALITY GATE FAILED: nDCG@10 dropped by {-quality.delta:.4f} > {args.max_drop}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
