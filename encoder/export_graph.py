"""The exportable document graph: a fill-mask model whose forward returns document weights.

Both the ONNX export and the TorchScript trace wrap the model with :func:`build_export_module`:
``(input_ids, attention_mask) -> weights [batch, vocab]`` with SPLADE pooling inside and
special-token columns set to 0.

The pooling is computed the cheap way, with the same result: padded positions' hidden states
are replaced by the first real token's (so they cannot raise the maximum), the vocabulary
projection's maximum over positions is taken before its bias is added
(``max_i(x_i + b) = max_i x_i + b``), and :func:`sparse_pool` applies the activation on that
``[batch, 1, vocab]`` maximum. This skips two full passes over the ``[batch, seq, vocab]``
logits (masking and bias), which dominate CPU time for small encoders.

The projection is also split into blocks of :data:`PROJECTION_BLOCK` vocabulary columns, each
a ``MatMul`` followed by its own max over positions, concatenated at the end. A block's
``[tokens, block]`` logits stay in the CPU cache between the product and the maximum, where
one ``[tokens, vocab]`` product (213 MB for 8 Cranfield documents) goes to memory and
back; the result is the same. SPLADE-tiny on 2 cores: int8 1.5x faster, fp32 1.1-1.2x
(``benchmarks/encoding_throughput.py --variants``).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .errors import ConfigError
from .pooling import check_activation, sparse_pool

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

PROJECTION_BLOCK = 256
"""Vocabulary columns per projection block: ``[tokens, 256]`` fp32 logits of a batch of 8
documents of 218 tokens take 1.8 MB, within one core's 2 MB L2 on the reference machine."""


def _pooled_projection(decoder: torch.nn.Linear, block: int) -> torch.nn.Module:
    """Replace a vocabulary projection: return ``max_i logits_i`` as ``[batch, 1, vocab]``."""
    import torch

    class PooledProjection(torch.nn.Module):
        def __init__(self, linear: torch.nn.Linear) -> None:
            super().__init__()
            # Copies, not views of the (tied) weight: each block is its own graph constant.
            self.blocks = torch.nn.ParameterList(
                torch.nn.Parameter(part.detach().clone(), requires_grad=False)
                for part in linear.weight.split(block, dim=0)
            )
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
            pooled = torch.cat([torch.amax(torch.nn.functional.linear(hidden, w), dim=1) for w in self.blocks], dim=-1)
            if self.bias is not None:
                pooled = pooled + self.bias
            # A row without tokens pools to 0, as masked max pooling gives.
            pooled = torch.where(real.amax(dim=1, keepdim=True) != 0, pooled, torch.zeros_like(pooled))
            return pooled.unsqueeze(1)

    return PooledProjection(decoder)


def build_export_module(
    model: torch.nn.Module, special_ids: Sequence[int], activation: str, *, block: int = PROJECTION_BLOCK
) -> torch.nn.Module:
    """Wrap a fill-mask model so its forward returns document weights ``[batch, vocab]``.

    The model is deep-copied (the caller's stays untouched). When its output embeddings are
    a plain ``nn.Linear`` (BERT, DistilBERT, RoBERTa, ...), pooling is fused into the
    projection, in blocks of ``block`` vocabulary columns, as described in the module
    docstring; otherwise the full logits go through :func:`sparse_pool`.

    Raises:
        ConfigError: unknown ``activation`` or ``block`` < 1.
    """
    import torch

    check_activation(activation)
    if block < 1:
        raise ConfigError(f"block must be >= 1, got {block}")
    model = copy.deepcopy(model).float().eval()
    vocab_size = int(model.config.vocab_size)
    keep = torch.ones(vocab_size)
    keep[[i for i in special_ids if i < vocab_size]] = 0.0
    decoder = model.get_output_embeddings()
    projection = None
    if isinstance(decoder, torch.nn.Linear):
        projection = _pooled_projection(decoder, block)
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
