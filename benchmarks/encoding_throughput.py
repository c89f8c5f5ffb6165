"""Document-encoding throughput: PyTorch fp32 vs ONNX fp32 vs ONNX int8 on the same texts.

All encoders get the same documents, window, batch size and thread count; the runtimes
are interleaved within each repeat (so background load hits them alike) and the median
docs/s over repeats is reported, with the ratio to PyTorch at the same thread count. Texts
are handed to ``encode_document`` in chunks of ``--chunk`` documents, as ``encode_to_file``
does (0: all at once); each call sorts its rows by token count before batching. The padding
column is the share of padded positions with that chunking versus the old character-length
sort. ``--int8-variants`` adds int8 models with the vocabulary projection left in fp32 and
with per-tensor weight scales. Prints a table and writes JSON.

    python -m benchmarks.encoding_throughput --model-dir ~/.cache/sparsedoc/models/splade-tiny \
        --dataset ../shared/data/cranfield --limit 400 --threads 1,2 --repeats 3
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

from sparsedoc.cli.logs import setup_logging
from sparsedoc.cli.tables import format_table
from sparsedoc.encoder.doc_windows import document_rows
from sparsedoc.encoder.onnx_doc_encoder import OnnxDocumentEncoder
from sparsedoc.encoder.onnx_export import export_onnx
from sparsedoc.encoder.onnx_quantize import quantize_int8
from sparsedoc.encoder.protocols import DocumentEncoder
from sparsedoc.encoder.torch_doc_encoder import TorchDocumentEncoder
from sparsedoc.ingest.readers import BeirDataset


def time_encoder(encoder: DocumentEncoder, texts: list[str], chunk: int) -> float:
    """Return docs/s of encoding ``texts`` in calls of ``chunk`` documents (0: one call)."""
    step = chunk or len(texts)
    start = time.perf_counter()
    for i in range(0, len(texts), step):
        encoder.encode_document(texts[i : i + step])
    return len(texts) / (time.perf_counter() - start)


def padding_share(encoder: TorchDocumentEncoder, texts: list[str], chunk: int, batch_size: int) -> dict[str, float]:
    """Padded positions / real positions, with rows sorted by characters (old) or by tokens (now)."""
    lengths = [len(r) for r in document_rows(encoder.tokenizer, texts, encoder.max_length).rows]
    shares = {}
    for name, key in (("char_sort", lambda i: len(texts[i])), ("token_sort", lambda i: lengths[i])):
        padded, step = 0, chunk or len(texts)
        for c in range(0, len(texts), step):
            order = sorted(range(c, min(c + step, len(texts))), key=key)
            for b in range(0, len(order), batch_size):
                batch = order[b : b + batch_size]
                padded += len(batch) * max(lengths[i] for i in batch)
        shares[name] = round(padded / sum(lengths) - 1, 4)
    return shares


def build_models(args: argparse.Namespace, scratch: Path) -> dict[str, Path]:
    """The ONNX model directories to time (exported and quantised here unless given)."""
    fp32_dir = args.onnx_dir or scratch / "fp32"
    if args.onnx_dir is None:
        export_onnx(args.model_dir, fp32_dir, max_length=args.max_length)
    models = {"onnx fp32": fp32_dir, "onnx int8": args.int8_dir or scratch / "int8"}
    if args.int8_dir is None:
        quantize_int8(fp32_dir, models["onnx int8"])
    if args.int8_variants:
        models["int8 fp32-proj"] = scratch / "int8-fp32-projection"
        quantize_int8(fp32_dir, models["int8 fp32-proj"], exclude_projection=True)
        models["int8 per-tensor"] = scratch / "int8-per-tensor"
        quantize_int8(fp32_dir, models["int8 per-tensor"], per_channel=False)
    return models


def time_runtimes(args: argparse.Namespace, models: dict[str, Path], texts: list[str],
                  threads: int) -> dict[tuple[str, int], list[float]]:
    """docs/s of each runtime at one thread count, interleaved, alternating the order each repeat."""
    import torch

    torch.set_num_threads(threads)  # process-wide
    common = dict(max_length=args.max_length, batch_size=args.batch_size, num_threads=threads)
    encoders: dict[str, DocumentEncoder] = {"torch fp32": TorchDocumentEncoder(args.model_dir, **common)}
    encoders.update({name: OnnxDocumentEncoder(path, **common) for name, path in models.items()})
    for encoder in encoders.values():  # warm-up: first-run allocations, thread pools
        encoder.encode_document(texts[: args.batch_size])
    samples: dict[tuple[str, int], list[float]] = {(name, threads): [] for name in encoders}
    for repeat in range(args.repeats):
        for name in list(encoders) if repeat % 2 == 0 else reversed(list(encoders)):
            samples[(name, threads)].append(time_encoder(encoders[name], texts, args.chunk))
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--onnx-dir", type=Path, help="existing fp32 export (default: export to a temp dir)")
    parser.add_argument("--int8-dir", type=Path, help="existing int8 export (default: quantise the fp32 one)")
    parser.add_argument("--int8-variants", action="store_true", help="also time other int8 recipes")
    parser.add_argument("--limit", type=int, default=400, help="first N documents (0: all)")
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--threads", default="2", help="thread counts, comma-separated (e.g. 1,2)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--chunk", type=int, default=0, help="documents per encode_document call (0: all)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("runs/bench/encoding.json"))
    args = parser.parse_args(argv)
    setup_logging(1, quiet_libraries=True)

    texts = [d.content for d in BeirDataset.open(args.dataset).documents()]
    texts = texts[: args.limit] if args.limit else texts
    threads = [int(t) for t in args.threads.split(",")]
    samples: dict[tuple[str, int], list[float]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        models = build_models(args, Path(scratch))
        for n in threads:  # one thread count at a time: every onnxruntime session keeps its peak memory
            samples.update(time_runtimes(args, models, texts, n))
        padding = padding_share(TorchDocumentEncoder(args.model_dir, max_length=args.max_length), texts, args.chunk,
                                args.batch_size)
    medians = {key: statistics.median(values) for key, values in samples.items()}
    rows = [{"runtime": name, "threads": n, "docs_per_s": round(medians[(name, n)], 2),
             "speedup_vs_torch": round(medians[(name, n)] / medians[("torch fp32", n)], 2),
             "samples": [round(v, 2) for v in samples[(name, n)]]} for name, n in samples]
    print(f"{len(texts)} documents, max_length {args.max_length}, batch {args.batch_size}, chunk {args.chunk or 'all'}, "
          f"median of {args.repeats}, load average {os.getloadavg()[0]:.1f}; padding {padding}")
    print(format_table(["runtime", "threads", "docs/s", "x torch", "samples"],
                       [[r["runtime"], r["threads"], f"{r['docs_per_s']:.1f}", f"{r['speedup_vs_torch']:.2f}",
                         r["samples"]] for r in rows]))
    import onnxruntime
    import torch

    result = {
        "documents": len(texts), "dataset": str(args.dataset), "model_dir": str(args.model_dir),
        "max_length": args.max_length, "batch_size": args.batch_size, "chunk": args.chunk, "threads": threads,
        "repeats": args.repeats, "padding_share": padding, "results": rows,
        "environment": {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
                        "python": platform.python_version(), "cpus": os.cpu_count(),
                        "load_average": os.getloadavg()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
