"""IDF-aware student scoring: ``s(q, d) = sum_t idf_t * 1[t in q] * d_t``, and a trainable IDF.

Queries are not encoded: a query is the set of its tokens, weighted by the IDF table, exactly as
at inference. Because ``d s / d d_t = idf_t``, the ranking loss pushes on informative tokens harder
than on common ones while the FLOPS penalty is uniform, so low-IDF tokens are pruned first
(Geng et al., arXiv 2411.04403, "IDF-aware FLOPS"). With ``idf_aware=False`` the query weights
are binary (the ablation).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:
    import torch


def idf_vector(idf: Mapping[str, float], vocabulary: Mapping[str, int], size: int) -> torch.Tensor:
    """Lay an ``idf.json`` table out as a ``[size]`` tensor indexed by token id (missing tokens: 0)."""
    import torch

    vector = torch.zeros(size)
    for token, weight in idf.items():
        index = vocabulary.get(token)
        if index is None or index >= size:
            raise ConfigError(f"IDF token {token!r} is not in the student's vocabulary of {size} tokens")
        vector[index] = float(weight)
    return vector


def query_presence(query_token_ids: list[list[int]], columns: torch.Tensor) -> torch.Tensor:
    """Return a ``[queries, len(columns)]`` 0/1 matrix: query ``i`` contains the token of column ``j``."""
    import torch

    position = {int(token): j for j, token in enumerate(columns.tolist())}
    presence = torch.zeros(len(query_token_ids), len(position))
    for i, ids in enumerate(query_token_ids):
        for token in set(ids):
            j = position.get(int(token))
            if j is not None:
                presence[i, j] = 1.0
    return presence


def idf_aware_scores(
    presence: torch.Tensor, doc_weights: torch.Tensor, idf: torch.Tensor | None
) -> torch.Tensor:
    """Score every query against every document: ``(presence * idf) @ doc_weights.T``.

    Args:
        presence: ``[queries, columns]`` binary query-token matrix.
        doc_weights: ``[docs, columns]`` student document weights on the same columns.
        idf: ``[columns]`` IDF weights, or ``None`` for binary query weights.

    Returns:
        ``[queries, docs]`` scores.
    """
    query_weights = presence if idf is None else presence * idf.unsqueeze(0)
    return query_weights @ doc_weights.T


class TrainableIdf:
    """An IDF vector as a parameter (own learning rate); clamped to >= 0 when read out.

    Example:
        >>> import torch
        >>> TrainableIdf(torch.tensor([1.0, 2.0])).values().tolist()
        [1.0, 2.0]
    """

    def __init__(self, initial: torch.Tensor, *, trainable: bool = False) -> None:
        import torch

        self.parameter = torch.nn.Parameter(initial.clone().float(), requires_grad=trainable)
        self.trainable = trainable

    def values(self, columns: torch.Tensor | None = None) -> torch.Tensor:
        """The (non-negative) IDF of the given columns, or of the whole vocabulary."""
        import torch

        vector = self.parameter if columns is None else self.parameter[columns]
        return torch.relu(vector) if self.trainable else vector

    def to_table(self, vocabulary: list[str], special_ids: set[int]) -> dict[str, float]:
        """Return ``token -> weight`` for every positive entry (the ``idf.json`` to save)."""
        values = self.values().detach().cpu().tolist()
        return {vocabulary[i]: float(w) for i, w in enumerate(values)
                if w > 0 and i not in special_ids and i < len(vocabulary)}
