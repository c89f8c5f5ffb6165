"""Export a fill-mask document model to ONNX with SPLADE pooling inside the graph.

The exported graph (:func:`build_export_module`) takes ``input_ids`` and ``attention_mask``
(``int64``, dynamic batch and sequence axes) and returns the document weight matrix ``weights``
``[batch, vocab]``: ``w_t = log(1 + ReLU(max_i mask_i * logit_it))`` (or the doc-v3
``log1p_log1p`` variant) with special-token columns set to 0. The output directory is
self-contained (see :mod:`.onnx_format`): ``model.onnx``, the tokenizer files, the source
``config.json`` and ``sparsedoc_onnx.json`` (activation, window, special ids, opset,
fingerprints of the source weights and of ``model.onnx``).

Every export is validated against the PyTorch reference (:func:`check_parity`) on a batch of
varied lengths, padded and unpadded; a failure raises :class:`ExportValidationError` and
renames the bad file to ``model.onnx.invalid`` so no loader picks it up.

Reference: Formal et al., "SPLADE v2" (arXiv 2109.10086); Geng et al., "Towards Competitive
Search Relevance for Inference-Free Learned Sparse Retrievers" (arXiv 2411.04403).
"""

from __future__ import annotations

import logging
import shutil
import warnings
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .doc_batches import special_token_ids, tokenize_documents
from .errors import ConfigError, ExportValidationError
from .export_graph import PROJECTION_BLOCK, build_export_module
from .export_parity import DEFAULT_ATOL, DEFAULT_TOP_K, VALIDATION_TEXTS, ParityReport, check_parity
from .extras import import_extra
from .loading import (
    check_model_dir,
    file_sha256,
    load_masked_lm,
    load_tokenizer,
    model_activation,
    model_fingerprint,
)
from .onnx_doc_encoder import OnnxDocumentEncoder
from .onnx_format import INPUT_NAMES, METADATA_FILE, METADATA_FORMAT, MODEL_FILE, OUTPUT_NAME, write_metadata
from .pooling import check_activation

logger = logging.getLogger(__name__)

DEFAULT_OPSET = 17


def export_onnx(
    model_dir: str | Path,
    output_dir: str | Path,
    *,
    opset: int = DEFAULT_OPSET,
    max_length: int = 512,
    activation: str | None = None,
    atol: float = DEFAULT_ATOL,
    top_k: int = DEFAULT_TOP_K,
    projection_block: int = PROJECTION_BLOCK,
    overwrite: bool = False,
) -> Path:
    """Export ``model_dir`` to ``output_dir/model.onnx`` and validate it against PyTorch.

    Args:
        model_dir: local Hugging Face fill-mask checkpoint (weights, config, tokenizer).
        output_dir: directory to create (must be empty or absent unless ``overwrite``).
        opset: ONNX opset (14 or later).
        max_length: token window recorded for encoders (capped at the model's positions).
        activation: ``"log1p"`` or ``"log1p_log1p"`` (doc-v3 models); ``None``: what the model
            records (``loading.model_activation``), else ``"log1p"``.
        atol: largest allowed absolute weight difference from PyTorch (fp32).
        top_k: each validation document's top-k token set must match PyTorch's.
        projection_block: vocabulary columns per block of the fused projection (see
            :mod:`.export_graph`; the vocabulary size gives one unblocked product).
        overwrite: replace an existing export in ``output_dir``.

    Returns:
        The path of ``model.onnx``.

    Raises:
        ConfigError: invalid arguments, or ``output_dir`` holds files and not ``overwrite``.
        ModelLoadError: the checkpoint cannot be loaded.
        MissingExtraError: torch or onnxruntime is not installed (extras ``torch`` and ``onnx``).
        ExportValidationError: the exported model disagrees with PyTorch; the message gives
            the numbers and the file is renamed to ``model.onnx.invalid``.

    Example:
        >>> export_onnx("models/splade-tiny", "models/splade-tiny-onnx")  # doctest: +SKIP
        PosixPath('models/splade-tiny-onnx/model.onnx')
    """
    torch = import_extra("torch", "export_onnx")
    import_extra("onnxruntime", "export_onnx")  # validates the export
    if opset < 14:
        raise ConfigError(f"opset must be >= 14, got {opset}")
    if max_length < 2:
        raise ConfigError(f"max_length must be >= 2, got {max_length}")
    if projection_block < 1:
        raise ConfigError(f"projection_block must be >= 1, got {projection_block}")
    source = check_model_dir(model_dir)
    activation = check_activation(activation or model_activation(source))
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
    graph = build_export_module(model, special_ids, activation, block=projection_block)
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
        "projection_block": projection_block if graph.projection is not None else None,
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
    """Compare an ONNX export with the PyTorch checkpoint it came from (see :func:`check_parity`).

    Returns:
        The report (``passed`` is True).

    Raises:
        ExportValidationError: max absolute difference above ``atol`` or a document whose
            top-``top_k`` token set differs; the message gives both numbers.
    """
    encoder = OnnxDocumentEncoder(onnx_dir, num_threads=1)
    return check_parity(
        encoder.run_batch,
        model if model is not None else load_masked_lm(model_dir),
        tokenizer if tokenizer is not None else load_tokenizer(model_dir),
        max_length=encoder.max_length, activation=encoder.activation, special_ids=encoder.special_ids,
        name=f"{onnx_dir} (ONNX)", atol=atol, top_k=top_k, texts=texts,
    )


def _mark_invalid(output: Path) -> None:
    model_path = output / MODEL_FILE
    if model_path.exists():
        model_path.replace(output / (MODEL_FILE + ".invalid"))
    (output / METADATA_FILE).unlink(missing_ok=True)
    logger.error("export failed validation; kept for inspection as %s", output / (MODEL_FILE + ".invalid"))
