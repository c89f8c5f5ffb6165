"""Ranking losses between student scores and teacher targets over each query's candidates.

All take ``[queries, candidates]`` matrices and an optional ``mask`` (1 = real candidate).
``kl_divergence_loss`` is the paper's: ``KL(softmax(t / tau) || softmax(s / tau))`` summed over
candidates and averaged over queries. ``margin_mse_loss`` and ``info_nce_loss`` are the usual
alternatives (candidate 0 is the positive).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:
    import torch

RANKING_LOSSES = ("kl", "margin_mse", "info_nce")


def _masked(scores: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    return scores if mask is None else scores.masked_fill(~mask.bool(), float("-inf"))


def kl_divergence_loss(
    student: torch.Tensor, teacher: torch.Tensor, mask: torch.Tensor | None = None, temperature: float = 1.0
) -> torch.Tensor:
    """``mean_q sum_d p_t(d) (log p_t(d) - log p_s(d))`` with ``p = softmax(scores / temperature)``."""
    import torch

    log_student = torch.log_softmax(_masked(student, mask) / temperature, dim=-1)
    log_teacher = torch.log_softmax(_masked(teacher, mask) / temperature, dim=-1)
    p_teacher = log_teacher.exp()
    terms = p_teacher * (log_teacher - log_student)
    terms = torch.where(p_teacher > 0, terms, torch.zeros_like(terms))
    return terms.sum(dim=-1).mean()


def margin_mse_loss(student: torch.Tensor, teacher: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over (query, negative) of ``((s_pos - s_neg) - (t_pos - t_neg))^2``; candidate 0 is the positive."""
    import torch

    student_margin = student[:, :1] - student[:, 1:]
    teacher_margin = teacher[:, :1] - teacher[:, 1:]
    errors = (student_margin - teacher_margin) ** 2
    if mask is None:
        return errors.mean()
    live = mask[:, 1:].float()
    return (errors * live).sum() / torch.clamp(live.sum(), min=1.0)


def info_nce_loss(student: torch.Tensor, mask: torch.Tensor | None = None, temperature: float = 1.0) -> torch.Tensor:
    """Cross-entropy of the positive (candidate 0) against the query's other candidates."""
    import torch

    log_probs = torch.log_softmax(_masked(student, mask) / temperature, dim=-1)
    return -log_probs[:, 0].mean()


def ranking_loss(
    name: str, student: torch.Tensor, teacher: torch.Tensor, mask: torch.Tensor | None = None,
    temperature: float = 1.0,
) -> torch.Tensor:
    """Dispatch on ``name`` (one of ``RANKING_LOSSES``); ``info_nce`` ignores the teacher."""
    if name == "kl":
        return kl_divergence_loss(student, teacher, mask, temperature)
    if name == "margin_mse":
        return margin_mse_loss(student, teacher, mask)
    if name == "info_nce":
        return info_nce_loss(student, mask, temperature)
    raise ConfigError(f"ranking loss must be one of {RANKING_LOSSES}, got {name!r}")
