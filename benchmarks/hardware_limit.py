"""The hardware limit of document encoding: this CPU's GEMM throughput at the vocabulary projection's shape.

For a small encoder almost all of the work per document is the vocabulary projection,
``tokens x hidden x vocab`` multiply-adds (2 operations each); SPLADE-tiny's two transformer
layers add about 10%. :func:`measure_gemm` times onnxruntime's own kernels (MLAS, the ones
an export runs on) on ``[rows, hidden] x [hidden, block]`` products, fp32 ``MatMul`` and
int8 ``MatMulInteger`` (u8 x s8 -> s32, VNNI where the CPU has it), with ``block`` columns so
the product stays in cache: the compute ceiling. ``vocab`` columns in one product is also
timed: what a graph that writes the whole ``[rows, vocab]`` logits to memory can reach.
Dividing a ceiling by the projection's operations per document gives the docs/s no
encoder of that model can exceed on this machine.

    python -m benchmarks.hardware_limit --rows 1744 --hidden 128 --vocab 30522
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from typing import Any

import numpy as np

from sparsedoc.plugin.latency_bench import environment

CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


def machine() -> dict[str, Any]:
    """Cores, memory and load average, plus the CPU model and the SIMD flags that matter for GEMM."""
    info: dict[str, Any] = {**environment(), "platform": platform.platform(), "python": platform.python_version()}
    try:
        text = open("/proc/cpuinfo", encoding="utf-8").read()
    except OSError:
        return info
    fields = {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in text.splitlines() if ":" in line)}
    flags = set(fields.get("flags", "").split())
    info.update(cpu=fields.get("model name"), cpu_flags=[f for f in CPU_FLAGS if f in flags])
    return info


def _session(op: str, rows: int, hidden: int, columns: int, threads: int) -> tuple[Any, dict[str, np.ndarray]]:
    """An onnxruntime session computing one ``[rows, hidden] x [hidden, columns]`` product."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    if op == "MatMul":
        weight = numpy_helper.from_array(rng.standard_normal((hidden, columns), dtype=np.float32), "w")
        x_type, y_type, inputs = TensorProto.FLOAT, TensorProto.FLOAT, rng.standard_normal((rows, hidden), np.float32)
    else:
        weight = numpy_helper.from_array(rng.integers(-127, 128, (hidden, columns), dtype=np.int8), "w")
        x_type, y_type, inputs = TensorProto.UINT8, TensorProto.INT32, rng.integers(0, 256, (rows, hidden), np.uint8)
    graph = helper.make_graph([helper.make_node(op, ["x", "w"], ["y"])], "gemm",
                              [helper.make_tensor_value_info("x", x_type, [rows, hidden])],
                              [helper.make_tensor_value_info("y", y_type, [rows, columns])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session, {"x": inputs}


def _gops(op: str, rows: int, hidden: int, columns: int, threads: int, seconds: float) -> float:
    """Best giga-operations/s of 5 timings of repeated products (about ``seconds`` in all)."""
    session, feeds = _session(op, rows, hidden, columns, threads)
    session.run(None, feeds)
    start = time.perf_counter()
    session.run(None, feeds)
    calls = max(1, int(seconds / 5 / max(time.perf_counter() - start, 1e-6)))
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            session.run(None, feeds)
        samples.append(2 * rows * hidden * columns * calls / (time.perf_counter() - start) / 1e9)
    return max(samples)


def measure_gemm(rows: int, hidden: int, vocab: int, threads: int, *, block: int = 1024,
                 seconds: float = 1.0) -> dict[str, float]:
    """GOP/s of fp32 and int8 products: in cache (``block`` columns) and at the full vocabulary width."""
    return {
        "fp32_gops": _gops("MatMul", rows, hidden, block, threads, seconds),
        "int8_gops": _gops("MatMulInteger", rows, hidden, block, threads, seconds),
        "fp32_full_width_gops": _gops("MatMul", rows, hidden, vocab, threads, seconds),
        "int8_full_width_gops": _gops("MatMulInteger", rows, hidden, vocab, threads, seconds),
    }


def projection_ops(tokens: float, hidden: int, vocab: int) -> float:
    """Operations (2 per multiply-add) of the vocabulary projection for ``tokens`` positions."""
    return 2.0 * tokens * hidden * vocab


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1744, help="token positions per product (batch x tokens)")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--vocab", type=int, default=30522)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    result = {"machine": machine(), "shape": vars(args),
              **measure_gemm(args.rows, args.hidden, args.vocab, args.threads)}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
