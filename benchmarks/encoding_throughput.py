"""Document-encoding throughput: PyTorch fp32 vs ONNX fp32 vs ONNX int8, against the hardware limit.

All encoders get the same documents, window, batch size and thread count; the runtimes
are interleaved within each repeat (so background load hits them alike) and the median
docs/s over repeats is reported, with the ratio to PyTorch at the same thread count. Texts
are handed to ``encode_document`` in chunks of ``--chunk`` documents, as ``encode_to_file``
does (0: all at once); each call sorts its rows by token count before batching.

The limit rows divide this CPU's measured GEMM throughput (fp32 and int8 onnxruntime
kernels at the vocabulary projection's shape, :mod:`benchmarks.hardware_limit`) by the
projection's operations per document (``2 x tokens x hidden x vocab``): no encoder of the
model can be faster, since the transformer layers, tokenisation and decoding come on top.
``--variants`` adds int8 models built other ways (one unblocked projection product, as
exported before, per-tensor weight scales, the projection left in fp32) and int8 with
onnxruntime's spinning threads off. Prints a table and writes JSON with the machine, date
and load average.

    python -m benchmarks.encoding_throughput --variants
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sparsedoc.cli.logs import setup_logging
from sparsedoc.cli.tables import format_table
from sparsedoc.encoder.assets import fetch_asset
from sparsedoc.encoder.doc_windows import document_rows
from sparsedoc.encoder.onnx_doc_encoder import OnnxDocumentEncoder
from sparsedoc.encoder.onnx_export import export_onnx
from sparsedoc.encoder.onnx_format import read_metadata
from sparsedoc.encoder.onnx_quantize import quantize_int8
from sparsedoc.encoder.protocols import DocumentEncoder
from sparsedoc.encoder.torch_doc_encoder import TorchDocumentEncoder
from sparsedoc.ingest.readers import BeirDataset

from .datasets import CRANFIELD, write_result
from .hardware_limit import machine, measure_gemm, projection_ops


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


def build_models(args: argparse.Namespace, scratch: Path) -> dict[str, tuple[Path, dict[str, Any]]]:
    """The ONNX models to time, with encoder options (exported and quantised here unless given)."""
    fp32_dir = args.onnx_dir or scratch / "fp32"
    if args.onnx_dir is None:
        export_onnx(args.model_dir, fp32_dir, max_length=args.max_length)
    int8_dir = args.int8_dir or scratch / "int8"
    if args.int8_dir is None:
        quantize_int8(fp32_dir, int8_dir)
    models: dict[str, tuple[Path, dict[str, Any]]] = {"onnx fp32": (fp32_dir, {}), "onnx int8": (int8_dir, {})}
    if args.variants:
        unblocked = scratch / "fp32-unblocked"
        export_onnx(args.model_dir, unblocked, max_length=args.max_length,
                    projection_block=int(read_metadata(fp32_dir)["vocab_size"]))
        models["int8, one projection block"] = (scratch / "int8-unblocked", {})
        quantize_int8(unblocked, models["int8, one projection block"][0])
        models["int8, per-tensor scales"] = (scratch / "int8-per-tensor", {})
        quantize_int8(fp32_dir, models["int8, per-tensor scales"][0], per_channel=False)
        models["int8, projection fp32"] = (scratch / "int8-fp32-projection", {})
        quantize_int8(fp32_dir, models["int8, projection fp32"][0], exclude_projection=True)
        models["int8, no spinning"] = (int8_dir, {"allow_spinning": False})
    return models


def time_runtimes(args: argparse.Namespace, models: dict[str, tuple[Path, dict[str, Any]]], texts: list[str],
                  threads: int) -> dict[tuple[str, int], list[float]]:
    """docs/s of each runtime at one thread count, interleaved, alternating the order each repeat."""
    import torch

    torch.set_num_threads(threads)  # process-wide
    common = dict(max_length=args.max_length, batch_size=args.batch_size, num_threads=threads)
    encoders: dict[str, DocumentEncoder] = {"torch fp32": TorchDocumentEncoder(args.model_dir, **common)}
    encoders.update({name: OnnxDocumentEncoder(path, **common, **options) for name, (path, options) in models.items()})
    for encoder in encoders.values():  # warm-up: first-run allocations, thread pools
        encoder.encode_document(texts[: args.batch_size])
    samples: dict[tuple[str, int], list[float]] = {(name, threads): [] for name in encoders}
    for repeat in range(args.repeats):
        for name in list(encoders) if repeat % 2 == 0 else reversed(list(encoders)):
            samples[(name, threads)].append(time_encoder(encoders[name], texts, args.chunk))
    return samples


def limit_rows(args: argparse.Namespace, texts: list[str], threads: list[int]) -> tuple[list[dict[str, Any]], dict]:
    """The hardware-limit rows: measured GEMM GOP/s over the projection's operations per document."""
    config = json.loads((args.model_dir / "config.json").read_text(encoding="utf-8"))
    hidden, vocab = int(config["hidden_size"]), int(config["vocab_size"])
    tokenizer = TorchDocumentEncoder(args.model_dir, max_length=args.max_length).tokenizer
    tokens = statistics.mean(len(r) for r in document_rows(tokenizer, texts, args.max_length).rows)
    ops = projection_ops(tokens, hidden, vocab)
    rows, gemm = [], {}
    for n in threads:
        gemm[n] = measure_gemm(round(tokens * args.batch_size), hidden, vocab, n)
        for precision in ("fp32", "int8"):
            gops = max(gemm[n][f"{precision}_gops"], gemm[n][f"{precision}_full_width_gops"])
            rows.append({"runtime": f"limit: {precision} GEMM", "threads": n, "docs_per_s": round(gops * 1e9 / ops, 1),
                         "gops": round(gops, 1)})
    return rows, {"tokens_per_document": round(tokens, 1), "hidden": hidden, "vocab": vocab,
                  "projection_gops_per_document": round(ops / 1e9, 3), "gemm": gemm}


def _limit_share(row: dict[str, Any], limits: list[dict[str, Any]]) -> float | None:
    """docs/s as a share of the matching limit row (int8 models against the int8 GEMM)."""
    precision = "int8" if "int8" in row["runtime"] and "projection fp32" not in row["runtime"] else "fp32"
    limit = next(r for r in limits if r["runtime"] == f"limit: {precision} GEMM" and r["threads"] == row["threads"])
    return round(row["docs_per_s"] / limit["docs_per_s"], 3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, help="fill-mask checkpoint (default: the splade-tiny asset)")
    parser.add_argument("--dataset", type=Path, default=CRANFIELD)
    parser.add_argument("--onnx-dir", type=Path, help="existing fp32 export (default: export to a temp dir)")
    parser.add_argument("--int8-dir", type=Path, help="existing int8 export (default: quantise the fp32 one)")
    parser.add_argument("--variants", action="store_true", help="also time other int8 recipes and settings")
    parser.add_argument("--limit", type=int, default=300, help="first N documents (0: all)")
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--threads", default=str(os.cpu_count() or 1), help="thread counts, comma-separated")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--chunk", type=int, default=0, help="documents per encode_document call (0: all)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("runs/bench/encoding.json"))
    args = parser.parse_args(argv)
    setup_logging(1, quiet_libraries=True)
    args.model_dir = args.model_dir or fetch_asset("splade-tiny")
    started, load_before = datetime.now(timezone.utc), os.getloadavg()

    texts = [d.content for d in BeirDataset.open(args.dataset).documents()]
    texts = texts[: args.limit] if args.limit else texts
    threads = [int(t) for t in args.threads.split(",")]
    samples: dict[tuple[str, int], list[float]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        models = build_models(args, Path(scratch))
        for n in threads:  # one thread count at a time: every onnxruntime session keeps its peak memory
            samples.update(time_runtimes(args, models, texts, n))
    limits, projection = limit_rows(args, texts, threads)
    padding = padding_share(TorchDocumentEncoder(args.model_dir, max_length=args.max_length), texts, args.chunk,
                            args.batch_size)
    medians = {key: statistics.median(values) for key, values in samples.items()}
    rows = [{"runtime": name, "threads": n, "docs_per_s": round(medians[(name, n)], 2),
             "speedup_vs_torch": round(medians[(name, n)] / medians[("torch fp32", n)], 2),
             "samples": [round(v, 2) for v in samples[(name, n)]]} for name, n in samples]
    for row in rows:
        row["share_of_limit"] = _limit_share(row, limits)
    load_after = os.getloadavg()
    print(f"{len(texts)} documents ({projection['tokens_per_document']} tokens each on average, projection "
          f"{projection['projection_gops_per_document']} GOP per document), max_length {args.max_length}, batch "
          f"{args.batch_size}, chunk {args.chunk or 'all'}, median of {args.repeats}, {started:%Y-%m-%d %H:%M} UTC, "
          f"load average {load_before[0]:.1f} -> {load_after[0]:.1f}; padding {padding}")
    print(format_table(["runtime", "threads", "docs/s", "x torch", "of limit", "samples"],
                       [[r["runtime"], r["threads"], f"{r['docs_per_s']:.1f}", f"{r['speedup_vs_torch']:.2f}",
                         f"{r['share_of_limit']:.0%}", r["samples"]] for r in rows]
                       + [[r["runtime"], r["threads"], f"{r['docs_per_s']:.1f}", "", "", f"{r['gops']} GOP/s"]
                          for r in limits]))
    import onnxruntime
    import torch

    result = {
        "date": started.isoformat(timespec="seconds"), "documents": len(texts), "dataset": str(args.dataset),
        "model_dir": str(args.model_dir), "max_length": args.max_length, "batch_size": args.batch_size,
        "chunk": args.chunk, "threads": threads, "repeats": args.repeats, "padding_share": padding,
        "results": rows, "limits": limits, "projection": projection,
        "machine": {**machine(), "load_average_before": list(load_before), "load_average_after": list(load_after)},
        "versions": {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__},
    }
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
