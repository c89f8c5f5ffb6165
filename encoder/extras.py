"""Optional dependencies: which pip extra installs each, and imports that name the extra when it is missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingExtraError

EXTRA_OF_MODULE = {
    "torch": "torch",
    "jnius": "lucene", "jnius_config": "lucene", "pyserini": "lucene",
    "opensearchpy": "opensearch", "cryptography": "opensearch",
    "onnx": "onnx", "onnxruntime": "onnx",
    "seismic": "seismic",
    "pydantic": "training", "yaml": "training", "sentence_transformers": "training", "faiss": "smoothing",
    "bmp": "bench", "matplotlib": "bench", "pyinstrument": "bench",
}
"""Top-level import name -> the extra in pyproject.toml's ``optional-dependencies`` that provides it."""


def import_extra(module: str, purpose: str, extra: str | None = None) -> ModuleType:
    """Import ``module`` (e.g. ``"onnxruntime.quantization"``) from an optional extra.

    ``extra`` names the extra to install where it is not the module's usual one
    (``EXTRA_OF_MODULE``), e.g. ``smoothing`` for sentence-transformers' dense embeddings.

    Raises:
        MissingExtraError: it is not installed; the message names the extra to install.

    Example:
        >>> import_extra("yaml", "training configs").__name__
        'yaml'
    """
    top = module.partition(".")[0]
    try:
        return importlib.import_module(module)
    except ImportError as err:
        if err.name is not None and err.name.partition(".")[0] != top:
            raise  # the extra is installed but one of its own dependencies is broken: keep the real error
        raise MissingExtraError(purpose, top, extra or EXTRA_OF_MODULE[top]) from err


def missing_extra(err: ImportError, purpose: str = "this command") -> MissingExtraError | None:
    """The ``MissingExtraError`` that ``err`` (a failed import of an optional module) stands for, else ``None``."""
    if isinstance(err, MissingExtraError):
        return err
    name = err.name or getattr(err.__cause__, "name", None)  # also an ImportError re-raised from the failed import
    top = (name or "").partition(".")[0]
    extra = EXTRA_OF_MODULE.get(top)
    return MissingExtraError(purpose, top, extra) if extra else None
