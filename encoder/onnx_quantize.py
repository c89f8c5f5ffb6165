"""Dynamic int8 quantisation of an ONNX export, and the retrieval-quality gate for it.

Weights of every ``MatMul``/``Gemm`` are stored as int8 (per output channel by default,
which keeps the 30k-column vocabulary projection accurate); activations are quantised on
the fly per batch. The gate encodes a corpus with both models and compares nDCG@10 of
inference-free retrieval (IDF query vectors from the same corpus, exact dot products).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError
from .exact_search import exact_search
from .extras import import_extra
from .idf import compute_idf
from .idf_query_encoder import IdfQueryEncoder
from .loading import file_sha256
from .metrics import evaluate_run
from .onnx_format import METADATA_FILE, MODEL_FILE, read_metadata, write_metadata
from .protocols import DocumentEncoder
from .sparse_vector import SparseVector

logger = logging.getLogger(__name__)

DEFAULT_MAX_NDCG_DROP = 0.005


def quantize_int8(
    onnx_dir: str | Path,
    output_dir: str | Path,
    *,
    per_channel: bool = True,
    reduce_range: bool = False,
    exclude_projection: bool = False,
    overwrite: bool = False,
) -> Path:
    """Write a dynamically int8-quantised copy of an fp32 export to ``output_dir``.

    Args:
        onnx_dir: a directory from :func:`export_onnx` (fp32).
        output_dir: the new self-contained directory (tokenizer and metadata copied).
        per_channel: one scale per weight column (recommended: the vocabulary projection's
            columns differ widely in range).
        reduce_range: 7-bit weights, for CPUs without VNNI where u8 x s8 products can
            saturate; costs some accuracy.
        exclude_projection: keep the vocabulary projection (``[hidden, vocab]`` weight, in
            blocks) in fp32. It is most of the compute of small encoders, so this gives up most of the
            speed-up (SPLADE-tiny: about as fast as fp32); kept for comparison.
        overwrite: replace an existing directory's contents.

    Returns:
        The path of the quantised ``model.onnx``.

    Raises:
        ConfigError: ``output_dir`` is not empty, or the source is not fp32.
        ModelLoadError: the source directory is not a valid export.

    Example:
        >>> quantize_int8("models/splade-tiny-onnx", "models/splade-tiny-int8")  # doctest: +SKIP
    """
    quantization = import_extra("onnxruntime.quantization", "quantize_int8")
    QuantType, quantize_dynamic = quantization.QuantType, quantization.quantize_dynamic  # noqa: N806

    source = Path(onnx_dir)
    metadata = read_metadata(source)
    if metadata.get("precision", "fp32") != "fp32":
        raise ConfigError(f"{source} is already {metadata['precision']}; quantise the fp32 export")
    source_model = source / metadata["model_file"]
    if file_sha256(source_model) != metadata["model_sha256"]:
        raise ConfigError(f"{source_model} does not match its {METADATA_FILE} (corrupt or replaced)")
    output = Path(output_dir)
    if output.resolve() == source.resolve():
        raise ConfigError("output_dir must differ from onnx_dir")
    if output.exists() and any(output.iterdir()) and not overwrite:
        raise ConfigError(f"{output} is not empty (pass overwrite=True to replace it)")
    output.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        if path.is_file() and path.name not in (MODEL_FILE, METADATA_FILE) and not path.name.endswith(".invalid"):
            shutil.copy2(path, output / path.name)
    target = output / MODEL_FILE
    excluded = _projection_nodes(source_model, int(metadata["vocab_size"])) if exclude_projection else []
    logger.info("quantising %s to int8 (per_channel=%s, reduce_range=%s, fp32 nodes %s)", source_model, per_channel,
                reduce_range, excluded)
    with tempfile.TemporaryDirectory() as scratch:
        staged = Path(scratch) / MODEL_FILE
        quantize_dynamic(
            str(source_model),
            str(staged),
            op_types_to_quantize=["MatMul", "Gemm"],
            per_channel=per_channel,
            reduce_range=reduce_range,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=excluded,
        )
        shutil.move(str(staged), target)
    metadata = dict(metadata)
    metadata.pop("parity", None)
    metadata.update(
        model_sha256=file_sha256(target),
        precision="int8-dynamic",
        quantization={"per_channel": per_channel, "reduce_range": reduce_range, "weight_type": "int8",
                      "op_types": ["MatMul", "Gemm"], "fp32_nodes": excluded,
                      "fp32_sha256": file_sha256(source_model)},
    )
    write_metadata(output, metadata)
    return target


def _projection_nodes(model_path: Path, vocab_size: int) -> list[str]:
    """Names of the vocabulary-projection MatMul/Gemm nodes.

    Those are the blocks of the fused projection (a ``MatMul`` whose output goes straight
    into a ``ReduceMax``, see :mod:`.export_graph`) or an unfused projection whose weight
    has ``vocab_size`` output columns.
    """
    import onnx

    graph = onnx.load(str(model_path)).graph
    wide = {t.name for t in graph.initializer if len(t.dims) == 2 and t.dims[-1] == vocab_size}
    pooled = {name for n in graph.node if n.op_type == "ReduceMax" for name in n.input[:1]}
    return [n.name for n in graph.node
            if n.op_type in ("MatMul", "Gemm") and (wide & set(n.input) or pooled & set(n.output))]


@dataclass(frozen=True)
class QuantizationQuality:
    """nDCG@10 of the fp32 and int8 models on one corpus, and whether the drop is acceptable."""

    fp32_ndcg: float
    int8_ndcg: float
    max_drop: float
    documents: int
    queries: int

    @property
    def delta(self) -> float:
        """``int8 - fp32`` (negative: int8 is worse)."""
        return self.int8_ndcg - self.fp32_ndcg

    @property
    def passed(self) -> bool:
        """True when int8 loses at most ``max_drop`` nDCG@10."""
        return self.delta >= -self.max_drop


def compare_quantized_quality(
    fp32_encoder: DocumentEncoder,
    int8_encoder: DocumentEncoder,
    documents: Mapping[str, str],
    queries: Mapping[str, str],
    qrels: Mapping[str, Mapping[str, int]],
    *,
    max_drop: float = DEFAULT_MAX_NDCG_DROP,
    batch_size: int = 64,
) -> QuantizationQuality:
    """Measure inference-free nDCG@10 of both encoders on one collection.

    Queries are IDF vectors (IDF computed on ``documents`` with the int8 encoder's
    tokenizer); every document is scored by exact dot product, so the only difference
    between the two runs is the document encoder.

    Args:
        fp32_encoder, int8_encoder: the encoders to compare (any ``DocumentEncoder`` with a
            ``tokenizer`` attribute on ``int8_encoder``).
        documents: doc_id -> text.
        queries: query_id -> text.
        qrels: query_id -> doc_id -> relevance.
        max_drop: largest acceptable nDCG@10 loss.
        batch_size: documents handed to each ``encode_document`` call.

    Returns:
        The two scores; the caller reports ``passed`` (it does not raise).

    Example:
        >>> q = compare_quantized_quality(fp32, int8, docs, queries, qrels)  # doctest: +SKIP
        >>> q.delta, q.passed  # doctest: +SKIP
    """
    if max_drop < 0:
        raise ConfigError(f"max_drop must be >= 0, got {max_drop}")
    tokenizer = getattr(int8_encoder, "tokenizer", None)
    if tokenizer is None:
        raise ConfigError("int8_encoder has no tokenizer attribute (needed to build IDF query vectors)")
    doc_ids = list(documents)
    texts = [documents[d] for d in doc_ids]
    query_encoder = IdfQueryEncoder(tokenizer, compute_idf(texts, tokenizer))
    query_ids = list(queries)
    query_vectors = query_encoder.encode_query([queries[q] for q in query_ids])
    scores = []
    for encoder in (fp32_encoder, int8_encoder):
        vectors: list[SparseVector] = []
        for start in range(0, len(texts), batch_size):
            vectors.extend(encoder.encode_document(texts[start : start + batch_size]))
        run = exact_search(dict(zip(query_ids, query_vectors, strict=True)), dict(zip(doc_ids, vectors, strict=True)),
                           k=100)
        scores.append(evaluate_run(run, qrels, ["nDCG@10"])["nDCG@10"])
    return QuantizationQuality(scores[0], scores[1], max_drop, len(doc_ids), len(query_ids))


def top_token_agreement(a: Sequence[SparseVector], b: Sequence[SparseVector], k: int = 10) -> float:
    """Mean overlap (0..1) of the top-``k`` token sets of paired vectors."""
    if len(a) != len(b):
        raise ConfigError(f"need paired vectors, got {len(a)} and {len(b)}")
    overlaps = []
    for x, y in zip(a, b, strict=True):
        tx, ty = set(x.top_k(k)), set(y.top_k(k))
        overlaps.append(len(tx & ty) / max(1, min(k, max(len(tx), len(ty)))))
    return sum(overlaps) / len(overlaps) if overlaps else 1.0
