"""SPLADE max pooling: ``w_t = log(1 + ReLU(max_i mask_i * logit_it))`` and its v3 variant.

Shared by the torch encoder, the trainer and the ONNX export so the math lives in one place.
ReLU is monotone, so ``ReLU(max_i mask_i * logit_it)`` is computed as a masked max followed
by one ReLU on the ``[batch, vocab]`` result: one temporary instead of three ``[batch, seq,
vocab]`` ones (the logits tensor dominates memory traffic on CPU).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .errors import ConfigError

if TYPE_CHECKING:
    import torch

ACTIVATIONS = ("log1p", "log1p_log1p")


def check_activation(activation: str) -> str:
    """Return ``activation`` if known, else raise ``ConfigError`` listing the choices."""
    if activation not in ACTIVATIONS:
        raise ConfigError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    return activation


def sparse_pool(
    logits: torch.Tensor, attention_mask: torch.Tensor, activation: str = "log1p", *, inplace: bool = False
) -> torch.Tensor:
    """Pool MLM logits ``[batch, seq, vocab]`` into document weights ``[batch, vocab]``.

    Args:
        logits: the MLM head's output.
        attention_mask: ``[batch, seq]``, 1 for real tokens, 0 for padding.
        activation: ``"log1p"`` (SPLADE, doc-v1/v2) or ``"log1p_log1p"`` (doc-v3, l0-like).
        inplace: overwrite ``logits`` (inference only: saves a full-size copy).
    """
    import torch

    check_activation(activation)
    padding = attention_mask.unsqueeze(-1) == 0
    masked = logits.masked_fill_(padding, 0.0) if inplace else logits.masked_fill(padding, 0.0)
    weights = torch.log1p(torch.relu(torch.amax(masked, dim=1)))
    if activation == "log1p_log1p":
        weights = torch.log1p(weights)
    return weights


def zero_columns(weights: torch.Tensor, token_ids: list[int]) -> torch.Tensor:
    """Return ``weights`` with the given vocabulary columns (special tokens) set to 0."""
    if not token_ids:
        return weights
    weights = weights.clone()
    weights[:, token_ids] = 0.0
    return weights


def document_weights(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    activation: str,
    special_ids: Sequence[int],
    *,
    inplace: bool = False,
) -> torch.Tensor:
    """The reference forward pass: MLM logits, SPLADE pooling, special-token columns set to 0.

    :class:`TorchDocumentEncoder` encodes with it and every export's parity check compares
    against it. Call it under ``torch.inference_mode()`` (``inplace`` overwrites the logits).
    """
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits
    return zero_columns(sparse_pool(logits, attention_mask, activation, inplace=inplace), list(special_ids))
