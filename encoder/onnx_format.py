"""The on-disk format of an sparsedoc ONNX export: file names, graph IO names and metadata.

An export directory holds ``model.onnx`` (inputs ``input_ids`` and ``attention_mask``,
``int64 [batch, sequence]``; output ``weights`` ``[batch, vocab]``), the tokenizer files,
the source ``config.json`` and ``sparsedoc_onnx.json``. The exporter, the quantiser, the
onnxruntime encoder and ML Commons packaging all read these names from here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import ConfigError, ModelLoadError
from .pooling import check_activation

MODEL_FILE = "model.onnx"
METADATA_FILE = "sparsedoc_onnx.json"
METADATA_FORMAT = 1
INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAME = "weights"
REQUIRED_KEYS = ("format", "model_file", "model_sha256", "activation", "max_length", "vocab_size", "special_token_ids")


def is_onnx_dir(path: str | Path) -> bool:
    """True when ``path`` holds ``model.onnx`` (an ONNX export, valid or not)."""
    return (Path(path) / MODEL_FILE).is_file()


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
    missing = [key for key in REQUIRED_KEYS if not isinstance(metadata, dict) or key not in metadata]
    if missing:
        raise ModelLoadError(f"{path}: missing keys {missing}")
    if metadata["format"] != METADATA_FORMAT:
        raise ModelLoadError(f"{path}: format {metadata['format']!r} not supported (expected {METADATA_FORMAT})")
    try:
        check_activation(metadata["activation"])
    except ConfigError as err:
        raise ModelLoadError(f"{path}: {err}") from err
    return metadata
