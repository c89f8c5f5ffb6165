"""The one rule for long queries, the same in sparse, BM25 and hybrid search on every engine.

**A query keeps at most ``MAX_QUERY_TOKENS`` distinct terms: those with the highest IDF
(ties by term); the others are dropped, counted in ``SearchResult.dropped_tokens`` and
logged at INFO (the CLI's ``-v``).**

* Sparse: the terms are the query vector's tokens and the IDF is their weight (an
  ``IdfQueryEncoder`` weighs each token by its IDF, so the highest weights are the
  highest IDFs).
* Sparse by a server-side analyzer (OpenSearch ``search_analyzer``): the terms are the tokens the
  analyzer gives the text and the IDF is the weight it gives each (read back with ``_analyze``).
* BM25: the terms are the analysed terms of the query text (stemmed, stopwords removed),
  each weighted by its count in the query as ``match`` does; the IDF is the index's BM25
  IDF, so the highest IDFs are the lowest document frequencies. Terms that no document
  contains score nothing and are left out without counting as dropped.

Why 512: Lucene (and OpenSearch's ``indices.query.bool.max_clause_count``) refuses a query
of more than 1,024 clauses, and a hybrid search runs a BM25 and a sparse sub-query, so each
gets half: 512 + 512 = 1,024. 512 is also the window of the BERT-family models whose
tokenizers split the query. A query within the budget is searched unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from sparsedoc.encoder.sparse_vector import SparseVector

__all__ = ["MAX_QUERY_TOKENS", "budget_terms", "budget_vector", "may_exceed_budget"]

logger = logging.getLogger(__name__)

MAX_QUERY_TOKENS = 512
"""The most distinct terms one query (sparse, or the BM25 half of hybrid) keeps; see the module docstring."""


def budget_vector(query: SparseVector, budget: int = MAX_QUERY_TOKENS) -> tuple[SparseVector, int]:
    """``query`` cut to its ``budget`` highest-weighted (highest-IDF) tokens, and how many were dropped.

    Example:
        >>> budget_vector(SparseVector({"wing": 3.0, "the": 0.1, "lift": 2.0}), budget=2)
        (SparseVector({'wing': 3.000, 'lift': 2.000}, nnz=2), 1)
    """
    if len(query) <= budget:
        return query, 0
    kept = query.top_k(budget)
    dropped = len(query) - budget
    logger.info("sparse query: %d distinct tokens, kept the %d with the highest IDF (query weight), dropped %d",
                len(query), budget, dropped)
    return kept, dropped


def budget_terms(counts: Mapping[str, int], document_frequency: Callable[[list[str]], Mapping[str, int]],
                 budget: int = MAX_QUERY_TOKENS) -> tuple[dict[str, int], int]:
    """A BM25 query's analysed ``term -> count`` cut to its ``budget`` highest-IDF terms, and how many were dropped.

    Args:
        counts: each distinct analysed term of the query and its count in the query.
        document_frequency: looks up the document frequency in the index of each of the
            given terms (0 or absent: no document contains it); called only over the budget.
        budget: the most terms kept.

    Returns:
        The kept ``term -> count`` (in ``counts``' order) and the number of terms that
        occur in the index but were cut.

    Example:
        >>> budget_terms({"wing": 2, "air": 1, "zzz": 1}, lambda terms: {"wing": 3, "air": 90}, budget=1)
        ({'wing': 2}, 1)
    """
    if len(counts) <= budget:
        return dict(counts), 0
    frequencies = document_frequency(list(counts))
    present = [term for term in counts if frequencies.get(term, 0) > 0]
    kept = set(sorted(present, key=lambda term: (frequencies[term], term))[:budget])
    dropped = len(present) - len(kept)
    logger.info("BM25 query: %d distinct terms (%d in no document), kept the %d with the highest IDF, dropped %d",
                len(counts), len(counts) - len(present), len(kept), dropped)
    return {term: count for term, count in counts.items() if term in kept}, dropped


def may_exceed_budget(text: str, budget: int = MAX_QUERY_TOKENS) -> bool:
    """Whether ``text`` could analyse into more than ``budget`` distinct terms.

    Every term is made of at least one character of the text (the English analyzer
    splits and shortens words, never adds terms), so a text of at most ``budget``
    characters never does; engines then skip analysing it separately.
    """
    return len(text) > budget
