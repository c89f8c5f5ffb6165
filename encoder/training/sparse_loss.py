"""The inference-free training loss: ranking distillation plus warmed-up document FLOPS.

``L = L_rank(student, teacher) + lambda_d(t) * L_flops(docs)``, returned as a dict of named parts
(``ranking``, ``flops``, ``flops_weight``, ``loss``) like sentence-transformers' ``SpladeLoss``.
Teachers never run here: their targets arrive as a tensor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import ConfigError
from .flops import flops_loss, l0_gate, lambda_at
from .ranking_losses import RANKING_LOSSES, ranking_loss

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class InferenceFreeSparseLoss:
    """Ranking loss + ``lambda(t)`` FLOPS on documents only.

    Args:
        ranking: ``"kl"`` (paper), ``"margin_mse"`` or ``"info_nce"``.
        flops_weight: ``lambda_d``.
        warmup_steps: ``T`` of the quadratic warm-up.
        temperature: softmax temperature of KL / InfoNCE.
        l0_threshold: penalise only documents with more than this many nonzeros (``None``: all).

    Example:
        >>> import torch
        >>> loss = InferenceFreeSparseLoss(flops_weight=0.0)
        >>> parts = loss(torch.zeros(1, 2), torch.zeros(1, 2), torch.ones(2, 3), step=0)
        >>> sorted(parts)
        ['flops', 'flops_weight', 'loss', 'ranking']
    """

    ranking: str = "kl"
    flops_weight: float = 0.0
    warmup_steps: int = 0
    temperature: float = 1.0
    l0_threshold: float | None = None

    def __post_init__(self) -> None:
        if self.ranking not in RANKING_LOSSES:
            raise ConfigError(f"ranking must be one of {RANKING_LOSSES}, got {self.ranking!r}")
        if self.flops_weight < 0 or self.warmup_steps < 0:
            raise ConfigError("flops_weight and warmup_steps must be >= 0")
        if self.temperature <= 0:
            raise ConfigError(f"temperature must be > 0, got {self.temperature}")
        if self.l0_threshold is not None and self.l0_threshold < 0:
            raise ConfigError(f"l0_threshold must be >= 0, got {self.l0_threshold}")

    def __call__(
        self,
        student_scores: torch.Tensor,
        teacher_targets: torch.Tensor,
        doc_weights: torch.Tensor,
        *,
        step: int,
        mask: torch.Tensor | None = None,
        column_scale: torch.Tensor | None = None,
        nonzeros: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Compute the parts for one batch.

        Args:
            student_scores / teacher_targets: ``[queries, candidates]``.
            doc_weights: ``[docs, columns]`` document weights (all documents of the batch).
            step: the optimisation step (drives the warm-up).
            mask: ``[queries, candidates]`` real-candidate mask.
            column_scale: FLOPS reweighting of sampled columns.
            nonzeros: ``[docs]`` nonzero counts (needed with ``l0_threshold``).
        """
        import torch

        rank = ranking_loss(self.ranking, student_scores, teacher_targets, mask, self.temperature)
        gate = None
        if self.l0_threshold is not None:
            if nonzeros is None:
                raise ConfigError("l0_threshold needs the documents' nonzero counts")
            gate = l0_gate(nonzeros, self.l0_threshold)
        flops = flops_loss(doc_weights, column_scale=column_scale, doc_gate=gate)
        weight = lambda_at(step, self.flops_weight, self.warmup_steps)
        return {
            "ranking": rank,
            "flops": flops,
            "flops_weight": torch.tensor(weight),
            "loss": rank + weight * flops,
        }
