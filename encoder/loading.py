"""Load Hugging Face tokenizers and fill-mask models from local directories, with clear errors."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ModelLoadError
from .extras import import_extra

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

logger = logging.getLogger(__name__)

WEIGHT_FILES = (
    "model.safetensors", "pytorch_model.bin", "model.safetensors.index.json", "pytorch_model.bin.index.json",
)
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer_config.json")


def check_model_dir(path: str | Path, *, need_weights: bool = True) -> Path:
    """Check that ``path`` looks like a Hugging Face model directory and return it.

    Raises:
        ModelLoadError: naming the directory and what is missing or unreadable.
    """
    directory = Path(path)
    if not directory.is_dir():
        raise ModelLoadError(f"model directory not found: {directory}")
    config = directory / "config.json"
    if not config.is_file():
        raise ModelLoadError(f"{directory}: no config.json (is this a Hugging Face model directory?)")
    try:
        json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelLoadError(f"{config}: unreadable config ({err})") from err
    if need_weights and not any((directory / name).is_file() for name in WEIGHT_FILES):
        raise ModelLoadError(f"{directory}: no model weights (expected one of {', '.join(WEIGHT_FILES)})")
    if not any((directory / name).is_file() for name in TOKENIZER_FILES):
        raise ModelLoadError(f"{directory}: no tokenizer files (expected tokenizer.json or vocab.txt)")
    return directory


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerBase:
    """Load a fast tokenizer from a local directory (never from a hub)."""
    from transformers import AutoTokenizer

    directory = Path(path)
    if not directory.is_dir():
        raise ModelLoadError(f"tokenizer directory not found: {directory}")
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(directory), local_files_only=True, use_fast=True)
    except Exception as err:  # transformers raises many types for broken files
        raise ModelLoadError(f"{directory}: cannot load tokenizer ({type(err).__name__}: {err})") from err
    if not tokenizer.is_fast:
        raise ModelLoadError(f"{directory}: a fast tokenizer (tokenizer.json or vocab.txt) is required")
    return tokenizer


def load_masked_lm(path: str | Path) -> PreTrainedModel:
    """Load a fill-mask (MLM) model from a local directory in eval mode.

    An encoder-only checkpoint (no MLM head) loads with a freshly initialised head; that
    is logged as a warning since such a model needs training before it encodes well.

    Raises:
        MissingExtraError: torch is not installed (extra ``torch``).
        ModelLoadError: the directory is not a loadable fill-mask checkpoint.
    """
    import_extra("torch", "loading a PyTorch model")
    from transformers import AutoModelForMaskedLM

    directory = check_model_dir(path)
    try:
        model, info = AutoModelForMaskedLM.from_pretrained(
            str(directory), local_files_only=True, output_loading_info=True
        )
    except Exception as err:
        raise ModelLoadError(f"{directory}: cannot load fill-mask model ({type(err).__name__}: {err})") from err
    missing = sorted(info.get("missing_keys") or ())  # a list in transformers 4, a set in 5
    if missing:
        logger.warning("%s: %d weights initialised fresh (e.g. %s); the MLM head may be untrained",
                       directory, len(missing), missing[0])
    return model.eval()


ACTIVATION_KEY = "sparsedoc_activation"
"""The ``config.json`` key where a model trained by sparsedoc records its pooling activation."""


def model_activation(path: str | Path) -> str:
    """The activation a model directory records (``ACTIVATION_KEY`` in ``config.json``), else ``"log1p"``.

    A model trained with ``log1p_log1p`` must be encoded with it; checkpoints from elsewhere
    record nothing and get the SPLADE default.

    Raises:
        ModelLoadError: ``config.json`` is unreadable.
    """
    config = check_model_dir(path, need_weights=False) / "config.json"
    value = json.loads(config.read_text(encoding="utf-8")).get(ACTIVATION_KEY, "log1p")
    return str(value)


def file_sha256(path: str | Path) -> str:
    """Return the hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


NOT_ENCODING_FILES = frozenset({"smoothing.json"})
"""Files of a model folder that do not change its vectors (the smoothing recorded by `adapt`)."""


def model_fingerprint(path: str | Path) -> str:
    """SHA-256 over the relative paths and bytes of every non-hidden file in a model directory.

    ``NOT_ENCODING_FILES`` at the top of the folder are left out: writing them does not make
    cached vectors stale.
    """
    root = Path(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = file.relative_to(root)
        if any(part.startswith(".") for part in relative.parts) or str(relative) in NOT_ENCODING_FILES:
            continue
        digest.update(str(relative).encode() + b"\0")
        with file.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()
