"""Why a document scores what it does: the sparse dot product token by token, and the engine's BM25 explanation.

``Backend.explain`` returns an ``Explanation``. Its sparse part is computed from what the
engine stores: each query token the document also holds, the query weight (the token's
IDF for an ``IdfQueryEncoder``), the document weight as the engine keeps it (dequantised
impact on Lucene, ``rank_features`` precision on OpenSearch) and their product; the
products sum to the engine's own sparse score for the document (``sparse_score``, read
from the engine's explain) up to float32 rounding. The BM25 part is the engine's own
explanation tree (Lucene's ``IndexSearcher.explain``, OpenSearch's ``_explain`` API).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Explanation", "ScoreTree", "TokenMatch"]


@dataclass(frozen=True)
class TokenMatch:
    """One query token found in the document, with both weights."""

    token: str
    query_weight: float
    document_weight: float

    @property
    def contribution(self) -> float:
        """``query_weight * document_weight``: the token's share of the sparse score."""
        return self.query_weight * self.document_weight


@dataclass(frozen=True)
class ScoreTree:
    """An engine's score explanation: a value, what it is, and the values it is made of."""

    value: float
    description: str
    details: tuple[ScoreTree, ...] = ()

    @classmethod
    def from_dict(cls, node: Mapping[str, Any]) -> ScoreTree:
        """From OpenSearch's ``explanation`` JSON (``value``, ``description``, ``details``)."""
        return cls(float(node.get("value", 0.0)), str(node.get("description", "")),
                   tuple(cls.from_dict(child) for child in node.get("details") or ()))

    def render(self, indent: str = "  ") -> str:
        """The tree as indented lines, one node each: ``value  description``.

        Example:
            >>> print(ScoreTree(2.0, "sum of:", (ScoreTree(2.0, "weight(wing)"),)).render())
            2.0000  sum of:
              2.0000  weight(wing)
        """
        lines: list[str] = []
        stack: list[tuple[ScoreTree, int]] = [(self, 0)]
        while stack:
            node, depth = stack.pop()
            lines.append(f"{indent * depth}{node.value:.4f}  {node.description}")
            stack.extend((child, depth + 1) for child in reversed(node.details))
        return "\n".join(lines)


@dataclass(frozen=True)
class Explanation:
    """A document's sparse score token by token, and its BM25 explanation.

    Attributes:
        doc_id: the document explained.
        matches: the query tokens the document holds, largest contribution first (ties by token).
        sparse_score: the engine's own sparse score for the document (0 when it does not match).
        bm25: the engine's BM25 explanation of the query text for the document.
        dropped_tokens: query tokens and BM25 terms left out by the query budget
            (``sparsedoc.plugin.query_budget``).
    """

    doc_id: str
    matches: tuple[TokenMatch, ...]
    sparse_score: float
    bm25: ScoreTree
    dropped_tokens: int = 0

    @property
    def total(self) -> float:
        """The sum of the matches' contributions: the sparse score recomputed from its parts."""
        return sum(match.contribution for match in self.matches)

    @property
    def bm25_score(self) -> float:
        """The document's BM25 score for the query text (0 when it does not match)."""
        return self.bm25.value


def by_contribution(matches: Iterable[TokenMatch]) -> tuple[TokenMatch, ...]:
    """``matches`` largest contribution first, ties by token."""
    return tuple(sorted(matches, key=lambda match: (-match.contribution, match.token)))
