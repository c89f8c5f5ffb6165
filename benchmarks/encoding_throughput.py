"""Document-encoding throughput: PyTorch fp32 vs ONNX fp32 vs ONNX int8 on the same texts.

All three encoders get the same documents, window, batch size and thread count; the
runtimes are interleaved within each repeat (so background load hits them alike) and the
median docs/s over repeats is reported. Each encoder sorts documents by length to cut
padding. Prints a table and writes JSON.

    python benchmarks/encoding_throughput.py --model-dir ~/.cache/sparsedoc/models/splade-tiny \
        --dataset /work/shared/data/cranfield --limit 400 --threads 2 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sparsedoc.encoder.onnx_doc_encoder import OnnxDocumentEncoder
from sparsedoc.encoder.onnx_export import export_onnx
from sparsedoc.encoder.onnx_quantize import quantize_int8
from sparsedoc.encoder.protocols import DocumentEncoder
from sparsedoc.encoder.torch_doc_encoder import TorchDocumentEncoder
from sparsedoc.ingest.readers import BeirDataset
from sparsedoc.cli.logs import setup_logging


def time_encoder(encoder: DocumentEncoder, texts: list[str]) -> float:
    """Return docs/s of one ``encode_document`` call over ``texts``."""
    start = time.perf_counter()
    encoder.encode_document(texts)
    return len(texts) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--onnx-dir", type=Path, help="existing fp32 export (default: export to a temp dir)")
    parser.add_argument("--int8-dir", type=Path, help="existing int8 export (default: quantise the fp32 one)")
    parser.add_argument("--limit", type=int, default=400, help="first N documents (0: all)")
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("runs/bench/encoding.json"))
    args = parser.parse_args(argv)
    setup_logging(1, quiet_libraries=True)

    texts = [d.text for d in BeirDataset.open(args.dataset).documents()]
    texts = texts[: args.limit] if args.limit else texts
    with tempfile.TemporaryDirectory() as scratch:
        fp32_dir = args.onnx_dir or Path(scratch) / "fp32"
        if args.onnx_dir is None:
            export_onnx(args.model_dir, fp32_dir, max_length=args.max_length)
        int8_dir = args.int8_dir or Path(scratch) / "int8"
        if args.int8_dir is None:
            quantize_int8(fp32_dir, int8_dir)
        common = dict(max_length=args.max_length, batch_size=args.batch_size, num_threads=args.threads)
        encoders: dict[str, DocumentEncoder] = {
            "torch fp32": TorchDocumentEncoder(args.model_dir, **common),
            "onnx fp32": OnnxDocumentEncoder(fp32_dir, **common),
            "onnx int8": OnnxDocumentEncoder(int8_dir, **common),
        }
        for encoder in encoders.values():  # warm-up: first-run allocations, thread pools
            encoder.encode_document(texts[: args.batch_size])
        samples: dict[str, list[float]] = {name: [] for name in encoders}
        for _ in range(args.repeats):
            for name, encoder in encoders.items():
                samples[name].append(time_encoder(encoder, texts))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    baseline = medians["torch fp32"]
    rows = [{"runtime": name, "docs_per_s": round(medians[name], 2), "speedup_vs_torch": round(medians[name] / baseline, 2),
             "samples": [round(v, 2) for v in samples[name]]} for name in encoders]
    print(f"{len(texts)} documents, max_length {args.max_length}, batch {args.batch_size}, "
          f"{args.threads} threads, median of {args.repeats}")
    print(f"{'runtime':<12}{'docs/s':>10}{'x torch':>9}  samples")
    for row in rows:
        print(f"{row['runtime']:<12}{row['docs_per_s']:>10.1f}{row['speedup_vs_torch']:>9.2f}  {row['samples']}")
    import onnxruntime
    import torch

    result = {
        "documents": len(texts), "dataset": str(args.dataset), "model_dir": str(args.model_dir),
        "max_length": args.max_length, "batch_size": args.batch_size, "threads": args.threads,
        "repeats": args.repeats, "results": rows,
        "environment": {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
                        "python": platform.python_version(), "cpus": os.cpu_count(),
                        "load_average": os.getloadavg()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
