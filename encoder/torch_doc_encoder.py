"""The document encoder on PyTorch: any local Hugging Face fill-mask checkpoint."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .doc_batches import BatchedDocumentEncoder, special_token_ids, vocabulary_list
from .doc_windows import DEFAULT_LONG_DOCUMENTS, DEFAULT_MAX_WINDOWS, check_long_documents
from .errors import ConfigError
from .extras import import_extra
from .loading import check_model_dir, load_masked_lm, load_tokenizer, model_activation
from .pooling import check_activation, document_weights
from .pruning import Pruning

logger = logging.getLogger(__name__)


class TorchDocumentEncoder(BatchedDocumentEncoder):
    """Encode documents with a fill-mask model and SPLADE max pooling.

    Args:
        model_dir: local directory with ``config.json``, weights and tokenizer files
            (OpenSearch doc-v2/v3 models, SPLADE checkpoints, or one sparsedoc trained).
        max_length: token window (special tokens included).
        long_documents: ``"truncate"`` longer documents or encode them as overlapping
            ``"windows"`` max-pooled into one vector (see :mod:`.doc_windows`); both are counted.
        window_stride: content tokens between window starts (default: a whole window, so
            windows overlap only where the last one is aligned to the document's end).
        max_windows: windows encoded per document at most; a longer document keeps its first
            ``max_windows`` windows and is counted as truncated.
        batch_size: documents per forward pass (batches are formed by length).
        activation: ``"log1p"`` or ``"log1p_log1p"`` (doc-v3 models); ``None``: the one the
            model records (``loading.model_activation``), else ``"log1p"``.
        pruning: optional pruning applied to each vector after encoding.
        device: torch device string.
        num_threads: torch intra-op threads (``None`` keeps torch's default).

    Raises:
        MissingExtraError: torch is not installed (extra ``torch``; ONNX exports need only ``onnx``).

    Example:
        >>> enc = TorchDocumentEncoder("models/splade-tiny")  # doctest: +SKIP
        >>> enc.encode_document(["wing lift in a slipstream"])[0].top_k(3)  # doctest: +SKIP
    """

    def __init__(
        self,
        model_dir: str | Path,
        *,
        max_length: int = 512,
        long_documents: str = DEFAULT_LONG_DOCUMENTS,
        window_stride: int | None = None,
        max_windows: int = DEFAULT_MAX_WINDOWS,
        batch_size: int = 16,
        activation: str | None = None,
        pruning: Pruning | None = None,
        device: str = "cpu",
        num_threads: int | None = None,
    ) -> None:
        torch = import_extra("torch", "TorchDocumentEncoder")
        if max_length < 2:
            raise ConfigError(f"max_length must be >= 2, got {max_length}")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        self.long_documents = check_long_documents(long_documents, window_stride, max_windows)
        self.window_stride = window_stride
        self.max_windows = max_windows
        self.model_dir = check_model_dir(model_dir)
        self.activation = check_activation(activation or model_activation(self.model_dir))
        self.pruning = pruning or Pruning()
        self.batch_size = batch_size
        self.device = torch.device(device)
        if num_threads:
            torch.set_num_threads(num_threads)
        self.tokenizer = load_tokenizer(self.model_dir)
        self.model = load_masked_lm(self.model_dir).to(self.device)
        window = getattr(self.model.config, "max_position_embeddings", max_length)
        self.max_length = min(max_length, window)
        self.vocabulary = vocabulary_list(self.tokenizer)
        self.special_ids = special_token_ids(self.tokenizer)
        self.truncated_documents = 0
        self.windowed_documents = 0

    def run_batch(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Return the dense ``[batch, vocab]`` weights of tokenised rows (unpruned)."""
        import torch

        with torch.inference_mode():
            ids = torch.from_numpy(input_ids).to(self.device)
            mask = torch.from_numpy(attention_mask).to(self.device)
            weights = document_weights(self.model, ids, mask, self.activation, self.special_ids, inplace=True)
        return weights.float().cpu().numpy()
