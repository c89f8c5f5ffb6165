"""ML Commons SPARSE_ENCODING packages (ONNX or TorchScript) and the one entry point for both kinds.

``package_sparse_encoder`` zips one model file and ``tokenizer.json``. ML Commons runs each
document alone (batch 1) through the model with ``input_ids`` and ``attention_mask`` and
turns every non-zero entry of the ``[vocab]`` output row into ``{decode([id]): weight}``:

- ``ONNX``: ``model.onnx`` from :func:`export_onnx` (pooling inside the graph, output
  ``weights [batch, vocab]``), checked with onnxruntime before packaging, with its inputs
  renamed ``input1.input_ids`` / ``input1.attention_mask`` (the names DJL feeds).
- ``TORCH_SCRIPT``: ``model.pt`` from :func:`export_torchscript`.

The packaged ``tokenizer.json`` truncates to the model's window (``max_length``, special
tokens included). So server-side encoding (an ingest pipeline with this model) always
truncates long documents; the client-side ``long_documents="windows"`` option of sparsedoc's
encoders has no server-side counterpart (encode client-side and index the vectors instead).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from sparsedoc.encoder.errors import ConfigError, ModelLoadError
from sparsedoc.encoder.extras import import_extra
from sparsedoc.encoder.loading import check_model_dir, load_tokenizer, model_activation
from sparsedoc.encoder.onnx_format import INPUT_NAMES, is_onnx_dir

from .package import (
    FORMAT_FILES,
    KINDS,
    MODEL_FORMATS,
    TOKENIZER_FILE,
    MlCommonsPackage,
    check_token_names,
    package_sparse_tokenizer,
    tokenizer_json,
    write_package,
)

ML_COMMONS_INPUTS = ("input1.input_ids", "input1.attention_mask")


def package_sparse_encoder(
    model_dir: str | Path,
    output_dir: str | Path,
    *,
    model_format: str = "ONNX",
    name: str | None = None,
    version: str = "1.0.0",
    description: str | None = None,
    max_length: int | None = None,
    activation: str | None = None,
) -> MlCommonsPackage:
    """Build a SPARSE_ENCODING package from an ONNX export or a fill-mask checkpoint.

    Args:
        model_dir: a directory from :func:`export_onnx` (``model.onnx`` + ``sparsedoc_onnx.json``),
            or a Hugging Face fill-mask checkpoint (exported or traced here).
        output_dir: where to write ``<name>.zip`` and ``register.json``.
        model_format: ``"ONNX"`` or ``"TORCH_SCRIPT"``; an ONNX export can only be packaged as ONNX.
        name / version / description: register fields (name defaults to the directory's name).
        max_length: token window (default: the export's, else the model's, at most 512).
        activation: SPLADE activation when exporting or tracing a checkpoint (default: what the
            model records, else log1p).

    Raises:
        ConfigError: unknown format, or an ONNX export asked for as TORCH_SCRIPT.
        ModelLoadError: a truncated or corrupt ``model.onnx``, a tokenizer that does not
            match the model, or token names ML Commons would decode differently.
        ExportValidationError: the ONNX export of a checkpoint failed its parity gate.
    """
    if model_format not in MODEL_FORMATS:
        raise ConfigError(f"model_format must be one of {MODEL_FORMATS}, got {model_format!r}")
    if max_length is not None and max_length < 2:
        raise ConfigError(f"max_length must be >= 2, got {max_length}")
    source = Path(model_dir)
    if not source.is_dir():
        raise ModelLoadError(f"model directory not found: {source}")
    name = name or f"{source.name}-sparse-encoder"
    description = description or f"sparsedoc SPLADE document encoder ({source.name}, {model_format})"
    if is_onnx_dir(source):
        if model_format != "ONNX":
            raise ConfigError(f"{source} is an ONNX export; package it with model_format='ONNX' "
                              "or pass the source checkpoint for TORCH_SCRIPT")
        return _package_onnx(source, output_dir, name, version, description, max_length)
    if model_format == "ONNX":
        from sparsedoc.encoder.onnx_export import export_onnx

        with tempfile.TemporaryDirectory(prefix="sparsedoc-onnx-") as scratch:
            export_onnx(source, scratch, activation=activation, max_length=max_length or 512)
            return _package_onnx(Path(scratch), output_dir, name, version, description, max_length,
                                 origin=source)
    return _package_torchscript(source, output_dir, name, version, description, max_length, activation)


def _package_onnx(onnx_dir: Path, output_dir: str | Path, name: str, version: str, description: str,
                  max_length: int | None, origin: Path | None = None) -> MlCommonsPackage:
    from sparsedoc.encoder.onnx_doc_encoder import OnnxDocumentEncoder

    encoder = OnnxDocumentEncoder(onnx_dir, num_threads=1)  # checksum, graph and tokenizer checks
    window = min(max_length or encoder.max_length, encoder.max_length)
    check_token_names(encoder.tokenizer, onnx_dir)
    with tempfile.TemporaryDirectory(prefix="sparsedoc-onnx-") as scratch:
        model_path = rename_onnx_inputs(onnx_dir / encoder.metadata["model_file"], Path(scratch) / "model.onnx")
        files: dict[str, str | Path] = {TOKENIZER_FILE: tokenizer_json(encoder.tokenizer, onnx_dir, window),
                                        FORMAT_FILES["ONNX"]: model_path}
        details = {"source": str((origin or onnx_dir).resolve()), "max_length": window,
                   "activation": encoder.activation, "vocab_size": int(encoder.metadata["vocab_size"]),
                   "export_sha256": encoder.metadata["model_sha256"], "inputs": list(ML_COMMONS_INPUTS)}
        return write_package(files, output_dir, kind="encoder", model_format="ONNX", name=name,
                              version=version, description=description, details=details)


def rename_onnx_inputs(source: Path, target: Path) -> Path:
    """Copy an sparsedoc ONNX export with its inputs renamed to ``ML_COMMONS_INPUTS``.

    DJL's onnxruntime engine feeds inputs by the names ML Commons' sparse-encoding
    translator gives them (``input1.input_ids``, ``input1.attention_mask``) and refuses
    names the graph does not have. Only names change; the computation is the same.
    """
    onnx = import_extra("onnx", "packaging ONNX models")
    try:
        model = onnx.load(str(source))
    except Exception as err:  # onnx raises DecodeError and friends for corrupt files
        raise ModelLoadError(f"{source}: onnx cannot read it ({type(err).__name__}: {err})") from err
    renames = dict(zip(INPUT_NAMES, ML_COMMONS_INPUTS, strict=True))
    names = [i.name for i in model.graph.input]
    if sorted(names) != sorted(INPUT_NAMES):
        raise ModelLoadError(f"{source}: graph inputs {names}, expected {list(INPUT_NAMES)} (not an sparsedoc export)")
    for graph_input in model.graph.input:
        graph_input.name = renames[graph_input.name]
    for node in model.graph.node:
        for i, name in enumerate(node.input):
            if name in renames:
                node.input[i] = renames[name]
    onnx.save(model, str(target))
    return target


def _package_torchscript(source: Path, output_dir: str | Path, name: str, version: str, description: str,
                         max_length: int | None, activation: str | None) -> MlCommonsPackage:
    from sparsedoc.encoder.torchscript_export import export_torchscript

    tokenizer = load_tokenizer(check_model_dir(source))
    check_token_names(tokenizer, source)
    config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    window = min(max_length or 512, int(config.get("max_position_embeddings", 512)))
    with tempfile.TemporaryDirectory(prefix="sparsedoc-ts-") as scratch:
        model_path = Path(scratch) / FORMAT_FILES["TORCH_SCRIPT"]
        activation = activation or model_activation(source)
        report = export_torchscript(source, model_path, max_length=window, activation=activation)
        files: dict[str, str | Path] = {TOKENIZER_FILE: tokenizer_json(tokenizer, source, window),
                                        FORMAT_FILES["TORCH_SCRIPT"]: model_path}
        details = {"source": str(source.resolve()), "max_length": window, "activation": activation,
                   "vocab_size": int(config["vocab_size"]), "trace_max_abs_diff": report.max_abs_diff}
        return write_package(files, output_dir, kind="encoder", model_format="TORCH_SCRIPT", name=name,
                             version=version, description=description, details=details)


def package_ml_commons(
    model_dir: str | Path,
    output_dir: str | Path,
    *,
    kind: str,
    idf_path: str | Path | None = None,
    **options: Any,
) -> MlCommonsPackage:
    """Build either package: ``kind="tokenizer"`` (needs ``idf_path``) or ``kind="encoder"``.

    Keyword options go to :func:`package_sparse_tokenizer` or :func:`package_sparse_encoder`.
    """
    if kind not in KINDS:
        raise ConfigError(f"kind must be one of {KINDS}, got {kind!r}")
    if kind == "tokenizer":
        if idf_path is None:
            raise ConfigError("a tokenizer package needs an idf.json (idf_path)")
        return package_sparse_tokenizer(model_dir, idf_path, output_dir, **options)
    return package_sparse_encoder(model_dir, output_dir, **options)
