"""The document encoder on PyTorch: any local Hugging Face fill-mask checkpoint."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .doc_batches import BatchedDocumentEncoder, special_token_ids, tokenize_documents, vocabulary_list
from .errors import ConfigError
from .loading import check_model_dir, load_masked_lm, load_tokenizer
from .pooling import check_activation, sparse_pool, zero_columns
from .pruning import Pruning

logger = logging.getLogger(__name__)


class TorchDocumentEncoder(BatchedDocumentEncoder):
    """Encode documents with a fill-mask model and SPLADE max pooling.

    Args:
        model_dir: local directory with ``config.json``, weights and tokenizer files
            (OpenSearch doc-v2/v3 models, SPLADE checkpoints, or one sparsedoc trained).
        max_length: token window; longer documents are truncated and counted.
        batch_size: documents per forward pass (batches are formed by length).
        activation: ``"log1p"`` or ``"log1p_log1p"`` (doc-v3 models).
        pruning: optional pruning applied to each vector after encoding.
        device: torch device string.
        num_threads: torch intra-op threads (``None`` keeps torch's default).

    Example:
        >>> enc = TorchDocumentEncoder("models/splade-tiny")  # doctest: +SKIP
        >>> enc.encode_document(["wing lift in a slipstream"])[0].top_k(3)  # doctest: +SKIP
    """

    def __init__(
        self,
        model_dir: str | Path,
        *,
        max_length: int = 512,
        batch_size: int = 16,
        activation: str = "log1p",
        pruning: Pruning | None = None,
        device: str = "cpu",
        num_threads: int | None = None,
    ) -> None:
        import torch

        if max_length < 2:
            raise ConfigError(f"max_length must be >= 2, got {max_length}")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        self.model_dir = check_model_dir(model_dir)
        self.activation = check_activation(activation)
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

    def encode_to_array(self, texts: Sequence[str]) -> np.ndarray:
        """Return the dense ``[batch, vocab]`` weights of one batch (unpruned)."""
        import torch

        batch = tokenize_documents(self.tokenizer, texts, self.max_length)
        self.truncated_documents += batch.truncated
        with torch.inference_mode():
            input_ids = torch.from_numpy(batch.input_ids).to(self.device)
            mask = torch.from_numpy(batch.attention_mask).to(self.device)
            logits = self.model(input_ids=input_ids, attention_mask=mask).logits
            weights = zero_columns(sparse_pool(logits, mask, self.activation, inplace=True), self.special_ids)
        return weights.float().cpu().numpy()
