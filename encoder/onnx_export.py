"""Export a fill-mask document model to ONNX with SPLADE pooling inside the graph.

The exported graph takes ``input_ids`` and ``attention_mask`` (``int64``, dynamic batch and
sequence axes) and returns the document weight matrix ``weights`` ``[batch, vocab]``:
``w_t = log(1 + ReLU(max_i mask_i * logit_it))`` (or the doc-v3 ``log1p_log1p`` variant) with
special-token columns set to 0. The output directory is self-contained: ``model.onnx``, the
tokenizer files, the source ``config.json`` and ``sparsedoc_onnx.json`` (activation, window,
special ids, opset, fingerprints of the source weights and of ``model.onnx``).

Every export is validated against the PyTorch reference (:class:`TorchDocumentEncoder`) on a
batch of varied lengths, padded and unpadded; a failure raises :class:`ExportValidationError`
and renames the bad file to ``model.onnx.invalid`` so no loader picks it up.

The pooling is computed the cheap way, with the same result: padded positions' hidden states
are replaced by the first real token's (so they cannot raise the maximum), the vocabulary projection's
maximum over positions is taken before its bias is added (``max_i(x_i + b) = max_i x_i + b``),
and :func:`sparse_pool` applies the activation on that ``[batch, 1, vocab]`` maximum. This
skips two full passes over the ``[batch, seq, vocab]`` logits (masking and bias), which
dominate CPU time for small encoders.

Reference: Formal et al., "SPLADE v2" (arXiv 2109.10086); Geng et al., "Towards Competitive
Search Relevance for Inference-Free Learned Sparse Retrievers" (arXiv 2411.04403).
"""

from __future__ import annotations

import copy
import json
import logging
import shutil
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .doc_batches import special_token_ids, tokenize_documents
from .errors import ConfigError, ExportValidationError, ModelLoadError
from .loading import check_model_dir, file_sha256, load_masked_lm, load_tokenizer, model_fingerprint
from .pooling import check_activation, sparse_pool

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

MODEL_FILE = "model.onnx"
METADATA_FILE = "sparsedoc_onnx.json"
METADATA_FORMAT = 1
INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAME = "weights"
DEFAULT_OPSET = 17
DEFAULT_ATOL = 1e-4
DEFAULT_TOP_K = 10

_SENTENCE = (
    "The lift and drag of a slender wing in supersonic flow were measured at several angles of "
    "attack, and the boundary layer transition was compared with laminar theory. "
)
VALIDATION_TEXTS = (
    "wing",
    "heat transfer at the stagnation point",
    "Boundary-layer separation on a flat plate: experiments, 1954 (NACA TN-3021).",
    _SENTENCE * 2,
    _SENTENCE * 40,  # longer than any window: exercises truncation
)


@dataclass(frozen=True)
class ParityReport:
    """How an exported model compares with PyTorch on the validation batch."""

    max_abs_diff: float
    top_k: int
    top_k_mismatches: int
    documents: int
    atol: float

    @property
    def passed(self) -> bool:
        """True when within ``atol`` and every document's top-k tokens agree."""
        return self.max_abs_diff <= self.atol and self.top_k_mismatches == 0


def _pooled_projection(decoder: torch.nn.Linear) -> torch.nn.Module:
    """Replace a vocabulary projection: return ``max_i logits_i`` as ``[batch, 1, vocab]``."""
    import torch

    class PooledProjection(torch.nn.Module):
        def __init__(self, linear: torch.nn.Linear) -> None:
            super().__init__()
            self.weight = linear.weight
            self.bias = linear.bias
            self.attention_mask: torch.Tensor | None = None

        def forward(self, hidden: torch.Tensor) -> torch.Tensor:
            mask = self.attention_mask
            if mask is None:
                raise RuntimeError("PooledProjection needs attention_mask set by its wrapper")
            # Padded positions repeat the first real token, so they cannot raise the maximum
            # (works for left or right padding).
            real = (mask != 0).to(hidden.dtype)
            first = real.argmax(dim=1).view(-1, 1, 1).expand(-1, 1, hidden.shape[-1])
            anchor = hidden.gather(1, first)
            hidden = torch.where(real.unsqueeze(-1) != 0, hidden, anchor)
            pooled = torch.amax(torch.nn.functional.linear(hidden, self.weight), dim=1)
            if self.bias is not None:
                pooled = pooled + self.bias
            # A row without tokens pools to 0, as masked max pooling gives.
            pooled = torch.where(real.amax(dim=1, keepdim=True) != 0, pooled, torch.zeros_like(pooled))
            return pooled.unsqueeze(1)

    return PooledProjection(decoder)


def build_export_module(model: torch.nn.Module, special_ids: Sequence[int], activation: str) -> torch.nn.Module:
    """Wrap a fill-mask model so its forward returns document weights ``[batch, vocab]``.

    The model is deep-copied (the caller's stays untouched). When its output embeddings are
    a plain ``nn.Linear`` (BERT, DistilBERT, RoBERTa, ...), pooling is fused into the
    projection as described in the module docstring; otherwise the full logits go through
    :func:`sparse_pool`.
    """
    import torch

    check_activation(activation)
    model = copy.deepcopy(model).float().eval()
    vocab_size = int(model.config.vocab_size)
    keep = torch.ones(vocab_size)
    keep[[i for i in special_ids if i < vocab_size]] = 0.0
    decoder = model.get_output_embeddings()
    projection = None
    if isinstance(decoder, torch.nn.Linear):
        projection = _pooled_projection(decoder)
        parent_name, _, child = next(n for n, m in model.named_modules() if m is decoder).rpartition(".")
        setattr(model.get_submodule(parent_name), child, projection)
    else:
        logger.info("output embeddings are %s, not nn.Linear: exporting unfused pooling", type(decoder).__name__)

    class SparseDocumentGraph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model
            self.projection = projection
            self.register_buffer("keep", keep)

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            if self.projection is not None:
                self.projection.attention_mask = attention_mask
            logits = self.model(input_ids=input_ids, attention_mask=attention_mask).logits
            if self.projection is not None:
                self.projection.attention_mask = None
            if self.projection is not None and logits.shape[1] == 1:  # fused: already max-pooled
                return sparse_pool(logits, torch.ones_like(attention_mask[:, :1]), activation) * self.keep
            return sparse_pool(logits, attention_mask, activation) * self.keep

    return SparseDocumentGraph().eval()


def export_onnx(
    model_dir: str | Path,
    output_dir: str | Path,
    *,
    opset: int = DEFAULT_OPSET,
    max_length: int = 512,
    activation: str = "log1p",
    atol: float = DEFAULT_ATOL,
    top_k: int = DEFAULT_TOP_K,
    overwrite: bool = False,
) -> Path:
    """Export ``model_dir`` to ``output_dir/model.onnx`` and validate it against PyTorch.

    Args:
        model_dir: local Hugging Face fill-mask checkpoint (weights, config, tokenizer).
        output_dir: directory to create (must be empty or absent unless ``overwrite``).
        opset: ONNX opset (14 or later).
        max_length: token window recorded for encoders (capped at the model's positions).
        activation: ``"log1p"`` or ``"log1p_log1p"`` (doc-v3 models).
        atol: largest allowed absolute weight difference from PyTorch (fp32).
        top_k: each validation document's top-k token set must match PyTorch's.
        overwrite: replace an existing export in ``output_dir``.

    Returns:
        The path of ``model.onnx``.

    Raises:
        ConfigError: invalid arguments, or ``output_dir`` holds files and not ``overwrite``.
        ModelLoadError: the checkpoint cannot be loaded.
        ExportValidationError: the exported model disagrees with PyTorch; the message gives
            the numbers and the file is renamed to ``model.onnx.invalid``.

    Example:
        >>> export_onnx("models/splade-tiny", "models/splade-tiny-onnx")  # doctest: +SKIP
        PosixPath('models/splade-tiny-onnx/model.onnx')
    """
    import torch

    check_activation(activation)
    if opset < 14:
        raise ConfigError(f"opset must be >= 14, got {opset}")
    if max_length < 2:
        raise ConfigError(f"max_length must be >= 2, got {max_length}")
    source = check_model_dir(model_dir)
    output = Path(output_dir)
    if output.exists() and any(output.iterdir()) and not overwrite:
        raise ConfigError(f"{output} is not empty (pass overwrite=True to replace the export)")
    output.mkdir(parents=True, exist_ok=True)
    for stale in (MODEL_FILE, METADATA_FILE, MODEL_FILE + ".invalid"):
        (output / stale).unlink(missing_ok=True)

    tokenizer = load_tokenizer(source)
    model = load_masked_lm(source)
    max_length = min(max_length, int(getattr(model.config, "max_position_embeddings", max_length)))
    special_ids = special_token_ids(tokenizer)
    graph = build_export_module(model, special_ids, activation)
    sample = tokenize_documents(tokenizer, ["a short document", "a somewhat longer sample document text"], 16)
    model_path = output / MODEL_FILE
    logger.info("exporting %s to %s (opset %d)", source, model_path, opset)
    with torch.inference_mode(), warnings.catch_warnings():
        # The tracer warns about Python branches on shapes in transformers' mask code; the
        # parity gate below checks padded and unpadded batches of other shapes instead.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message="Exporting aten::index operator")
        torch.onnx.export(
            graph,
            (torch.from_numpy(sample.input_ids), torch.from_numpy(sample.attention_mask)),
            str(model_path),
            dynamo=False,
            opset_version=opset,
            input_names=list(INPUT_NAMES),
            output_names=[OUTPUT_NAME],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
                OUTPUT_NAME: {0: "batch"},
            },
            do_constant_folding=True,
        )
    tokenizer.save_pretrained(str(output))
    shutil.copy2(source / "config.json", output / "config.json")
    metadata = {
        "format": METADATA_FORMAT,
        "model_file": MODEL_FILE,
        "model_sha256": file_sha256(model_path),
        "activation": activation,
        "max_length": max_length,
        "vocab_size": int(model.config.vocab_size),
        "special_token_ids": special_ids,
        "opset": opset,
        "precision": "fp32",
        "source_model": {"path": str(source.resolve()), "fingerprint": model_fingerprint(source)},
    }
    write_metadata(output, metadata)
    try:
        report = validate_export(output, source, atol=atol, top_k=top_k, model=model, tokenizer=tokenizer)
    except ExportValidationError:
        _mark_invalid(output)
        raise
    metadata["parity"] = asdict(report)
    write_metadata(output, metadata)
    logger.info("export validated: max |onnx - torch| = %.2e, top-%d mismatches 0", report.max_abs_diff, top_k)
    return model_path


def validate_export(
    onnx_dir: str | Path,
    model_dir: str | Path,
    *,
    atol: float = DEFAULT_ATOL,
    top_k: int = DEFAULT_TOP_K,
    texts: Sequence[str] = VALIDATION_TEXTS,
    model: Any = None,
    tokenizer: Any = None,
) -> ParityReport:
    """Compare an ONNX export with the PyTorch checkpoint it came from.

    Runs ``texts`` once as one padded batch and once document by document (no padding), on
    both runtimes, with the export's activation and window.

    Returns:
        The report (``passed`` is True).

    Raises:
        ExportValidationError: max absolute difference above ``atol`` or a document whose
            top-``top_k`` token set differs; the message gives both numbers.
    """
    import torch

    from .onnx_doc_encoder import OnnxDocumentEncoder
    from .pooling import zero_columns

    encoder = OnnxDocumentEncoder(onnx_dir, num_threads=1)
    tokenizer = tokenizer if tokenizer is not None else load_tokenizer(model_dir)
    model = model if model is not None else load_masked_lm(model_dir)
    batches = [list(texts)] + [[t] for t in texts]
    max_diff, mismatches, documents = 0.0, 0, 0
    for batch_texts in batches:
        batch = tokenize_documents(tokenizer, batch_texts, encoder.max_length)
        got = encoder.run_batch(batch.input_ids, batch.attention_mask)
        with torch.inference_mode():
            mask = torch.from_numpy(batch.attention_mask)
            logits = model(input_ids=torch.from_numpy(batch.input_ids), attention_mask=mask).logits
            want = zero_columns(sparse_pool(logits, mask, encoder.activation), encoder.special_ids).numpy()
        if got.shape != want.shape:
            raise ExportValidationError(f"output shape {got.shape} != PyTorch {want.shape}")
        max_diff = max(max_diff, float(np.max(np.abs(got - want))) if got.size else 0.0)
        for row_got, row_want in zip(got, want):
            documents += 1
            if _top_k_set(row_got, top_k) != _top_k_set(row_want, top_k):
                mismatches += 1
    report = ParityReport(max_diff, top_k, mismatches, documents, atol)
    if not np.isfinite(max_diff) or not report.passed:
        raise ExportValidationError(
            f"{onnx_dir}: ONNX disagrees with PyTorch: max abs diff {max_diff:.3g} (atol {atol:g}), "
            f"{mismatches} of {documents} documents with a different top-{top_k} token set"
        )
    return report


def _top_k_set(row: np.ndarray, k: int) -> frozenset[int]:
    """The ids of the ``k`` largest positive weights (fewer if fewer are positive)."""
    k = min(k, int(np.count_nonzero(row > 0)))
    if k == 0:
        return frozenset()
    return frozenset(int(i) for i in np.argpartition(-row, k - 1)[:k])


def _mark_invalid(output: Path) -> None:
    model_path = output / MODEL_FILE
    if model_path.exists():
        model_path.replace(output / (MODEL_FILE + ".invalid"))
    (output / METADATA_FILE).unlink(missing_ok=True)
    logger.error("export failed validation; kept for inspection as %s", output / (MODEL_FILE + ".invalid"))


def write_metadata(onnx_dir: str | Path, metadata: dict[str, Any]) -> Path:
    """Write ``sparsedoc_onnx.json`` into ``onnx_dir`` and return its path."""
    path = Path(onnx_dir) / METADATA_FILE
    path.write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def read_metadata(onnx_dir: str | Path) -> dict[str, Any]:
    """Read and check ``sparsedoc_onnx.json``.

    Raises:
        ModelLoadError: missing, malformed, or lacking a required key.
    """
    path = Path(onnx_dir) / METADATA_FILE
    if not path.is_file():
        raise ModelLoadError(f"{onnx_dir}: no {METADATA_FILE} (export the model with export_onnx)")
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelLoadError(f"{path}: unreadable ({err})") from err
    required = ("format", "model_file", "model_sha256", "activation", "max_length", "vocab_size", "special_token_ids")
    missing = [key for key in required if not isinstance(metadata, dict) or key not in metadata]
    if missing:
        raise ModelLoadError(f"{path}: missing keys {missing}")
    if metadata["format"] != METADATA_FORMAT:
        raise ModelLoadError(f"{path}: format {metadata['format']!r} not supported (expected {METADATA_FORMAT})")
    try:
        check_activation(metadata["activation"])
    except ConfigError as err:
        raise ModelLoadError(f"{path}: {err}") from err
    return metadata
