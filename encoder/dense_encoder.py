"""A dense bi-encoder (sentence-transformers checkpoint from a local folder): L2-normalised embeddings.

Used at index time only, to find each document's nearest neighbours for dense-neighbour
smoothing (``sparsedoc.ingest.smoothing``), and by the dense teacher in training. Queries never
go through it: an inference-free index stays model-free at query time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError, ModelLoadError
from .extras import import_extra
from .loading import check_model_dir, model_fingerprint


class DenseEncoder:
    """Embeds texts with a sentence-transformers model; rows are unit vectors (float32).

    Texts are encoded in length-sorted batches (sentence-transformers sorts them), truncated
    at ``max_length`` tokens.

    Example:
        >>> encoder = DenseEncoder("models/all-MiniLM-L6-v2")  # doctest: +SKIP
        >>> encoder.encode(["lift of a swept wing"]).shape  # doctest: +SKIP
        (1, 384)
    """

    def __init__(self, model_dir: str | Path, *, max_length: int = 256, batch_size: int = 32,
                 num_threads: int | None = None) -> None:
        if max_length < 2 or batch_size < 1:
            raise ConfigError(f"max_length must be >= 2 and batch_size >= 1, got {max_length}, {batch_size}")
        self.model_dir = check_model_dir(model_dir)
        self.max_length = max_length
        self.batch_size = batch_size
        self.num_threads = num_threads
        self._model: Any = None
        self._fingerprint: str | None = None

    @property
    def fingerprint(self) -> str:
        """Hash of the model files and the settings that change an embedding."""
        if self._fingerprint is None:
            settings = f"dense:{self.max_length}:"
            self._fingerprint = hashlib.sha256((settings + model_fingerprint(self.model_dir)).encode()).hexdigest()
        return self._fingerprint

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return one L2-normalised float32 row per text (an empty text gets the model's empty-input vector).

        Raises:
            ModelLoadError: the folder is not a loadable sentence-transformers model, or it gives
                non-finite embeddings.
        """
        model = self._load()
        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        if self.num_threads:
            import torch

            torch.set_num_threads(self.num_threads)
        vectors = model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                               convert_to_numpy=True, show_progress_bar=False).astype(np.float32)
        if not np.isfinite(vectors).all():
            raise ModelLoadError(f"{self.model_dir}: the dense model gives non-finite embeddings")
        return vectors

    @property
    def dimension(self) -> int:
        """Embedding size."""
        return int(self._load().get_sentence_embedding_dimension())

    def _load(self) -> Any:
        if self._model is None:
            module = import_extra("sentence_transformers", "dense embeddings", extra="smoothing")
            try:
                self._model = module.SentenceTransformer(str(self.model_dir), device="cpu", local_files_only=True)
            except Exception as err:  # sentence-transformers raises many types for broken folders
                raise ModelLoadError(f"{self.model_dir}: cannot load sentence-transformers model ({err})") from err
            self._model.max_seq_length = self.max_length
        return self._model
