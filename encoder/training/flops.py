"""The document FLOPS regulariser, its l0-gated variant and the quadratic lambda warm-up.

``L_flops = sum_j (mean_b |d_bj|)^2`` over a batch of ``B`` documents (Paria et al. 2020, as used
by Geng et al., arXiv 2411.04403). There is no query term: queries are not encoded.
The l0 variant penalises only documents with more than ``tau`` nonzero weights.
When only a sample of vocabulary columns is computed, ``column_scale`` reweights each column's
contribution so that the sum estimates the full-vocabulary value (see ``student.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:
    import torch


def lambda_at(step: int, weight: float, warmup_steps: int) -> float:
    """``lambda(t) = weight * min(1, ((t + 1) / T)^2)``; ``T = 0`` means no warm-up.

    Example:
        >>> lambda_at(0, 1.0, 10), lambda_at(4, 1.0, 10), lambda_at(20, 1.0, 10)
        (0.01, 0.25, 1.0)
    """
    if step < 0 or weight < 0 or warmup_steps < 0:
        raise ConfigError(f"step, weight and warmup_steps must be >= 0, got {step}, {weight}, {warmup_steps}")
    if warmup_steps == 0:
        return weight
    return weight * min(1.0, ((step + 1) / warmup_steps) ** 2)


def flops_loss(
    doc_weights: torch.Tensor,
    *,
    column_scale: torch.Tensor | None = None,
    doc_gate: torch.Tensor | None = None,
) -> torch.Tensor:
    """``sum_j c_j (mean_b g_b |d_bj|)^2`` for ``doc_weights`` ``[B, columns]``.

    Args:
        doc_weights: document weights (one row per document).
        column_scale: per-column factor ``c_j`` (1 when ``None``); used to scale a vocabulary sample.
        doc_gate: per-document 0/1 gate ``g_b`` (the l0 variant; all 1 when ``None``).
    """
    weights = doc_weights.abs()
    if doc_gate is not None:
        weights = weights * doc_gate.unsqueeze(-1).to(weights.dtype)
    per_column = weights.mean(dim=0) ** 2
    if column_scale is not None:
        per_column = per_column * column_scale
    return per_column.sum()


def l0_gate(nonzeros: torch.Tensor, threshold: float) -> torch.Tensor:
    """``1[nonzeros_b > threshold]`` per document (float, no gradient)."""
    return (nonzeros > threshold).float().detach()
