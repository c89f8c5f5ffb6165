"""Heterogeneous ensemble targets: per-query min-max normalisation, weighted mean, score scale.

For each query row of candidate scores and each teacher ``k``:
``s'_k = (s_k - min s_k) / (max s_k - min s_k + eps)``; the target is
``S * sum_k w_k s'_k / sum_k w_k`` (Geng et al., arXiv 2411.04403, section 3; S = 30 by default).
Padding candidates (``mask == 0``) take part in neither the min nor the max and get target 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:
    import torch

EPSILON = 1e-6


def minmax_normalize(scores: torch.Tensor, mask: torch.Tensor | None = None, eps: float = EPSILON) -> torch.Tensor:
    """Min-max normalise each row of ``scores`` ``[queries, candidates]`` to about ``[0, 1]``.

    Example:
        >>> import torch
        >>> minmax_normalize(torch.tensor([[1.0, 3.0, 2.0]])).tolist()  # doctest: +ELLIPSIS
        [[0.0, 0.99999..., 0.49999...]]
    """
    import torch

    if mask is None:
        low = scores.min(dim=-1, keepdim=True).values
        high = scores.max(dim=-1, keepdim=True).values
        return (scores - low) / (high - low + eps)
    live = mask.bool()
    low = scores.masked_fill(~live, float("inf")).min(dim=-1, keepdim=True).values
    high = scores.masked_fill(~live, float("-inf")).max(dim=-1, keepdim=True).values
    normalized = (scores - low) / (high - low + eps)
    return torch.where(live, normalized, torch.zeros_like(normalized))


def ensemble_targets(
    teacher_scores: Mapping[str, torch.Tensor],
    weights: Mapping[str, float] | None = None,
    *,
    scale: float = 30.0,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Combine teachers' ``[queries, candidates]`` scores into one target matrix.

    Args:
        teacher_scores: teacher name -> raw scores (any scale; each is min-max normalised per row).
        weights: teacher name -> weight (equal weights when ``None``); normalised to sum 1.
        scale: the score scale ``S`` applied after averaging.
        mask: ``[queries, candidates]``, 1 for real candidates.

    Raises:
        ConfigError: no teachers, a weight for an unknown teacher, or non-positive total weight.
    """
    if not teacher_scores:
        raise ConfigError("ensemble_targets needs at least one teacher's scores")
    weights = dict(weights) if weights else {name: 1.0 for name in teacher_scores}
    unknown = set(weights) - set(teacher_scores)
    if unknown:
        raise ConfigError(f"weights given for unknown teachers {sorted(unknown)}; teachers: {sorted(teacher_scores)}")
    total = sum(weights.get(name, 0.0) for name in teacher_scores)
    if total <= 0:
        raise ConfigError(f"teacher weights must sum to > 0, got {weights}")
    parts = [minmax_normalize(scores.float(), mask) * (weights.get(name, 0.0) / total)
             for name, scores in teacher_scores.items()]
    combined = parts[0]
    for part in parts[1:]:
        combined = combined + part
    return combined * scale
