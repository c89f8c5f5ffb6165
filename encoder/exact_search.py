"""Exact in-memory sparse retrieval: brute-force dot products, for gates and dev evaluation.

No engine and no approximation: every document sharing a token with the query is scored,
so two runs differ only in their vectors. The int8 quality gate, the long-document
measurement and the trainer's dev evaluation rank with it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

import numpy as np

Vectors = Mapping[str, Mapping[str, float]]


def exact_search(query_vectors: Vectors, document_vectors: Vectors, *, k: int = 100) -> dict[str, dict[str, float]]:
    """Rank documents by dot product with each query through an in-memory inverted index.

    Args:
        query_vectors: query_id -> token -> weight (e.g. ``SparseVector``).
        document_vectors: doc_id -> token -> weight.
        k: hits per query.

    Returns:
        query_id -> {doc_id: score} for the ``k`` best documents with a positive score, in
        rank order (descending score, ties by ``doc_id``); the shape ``evaluate_run`` reads.

    Example:
        >>> exact_search({"q": {"wing": 1.0}}, {"a": {"wing": 2.0}, "b": {"lift": 1.0}})
        {'q': {'a': 2.0}}
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    doc_ids = sorted(document_vectors)  # index order == doc_id order, so ties break by doc_id
    postings: dict[str, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
    for index, doc_id in enumerate(doc_ids):
        for token, weight in document_vectors[doc_id].items():
            if weight > 0:
                rows, weights = postings[token]
                rows.append(index)
                weights.append(weight)
    arrays = {t: (np.asarray(r, dtype=np.int64), np.asarray(w, dtype=np.float64)) for t, (r, w) in postings.items()}
    run: dict[str, dict[str, float]] = {}
    for query_id, query in query_vectors.items():
        scores = np.zeros(len(doc_ids))
        for token, query_weight in query.items():
            if token in arrays:
                doc_rows, doc_weights = arrays[token]
                scores[doc_rows] += query_weight * doc_weights
        (hits,) = np.nonzero(scores > 0)
        if len(hits) > k:
            threshold = np.partition(scores[hits], len(hits) - k)[len(hits) - k]
            hits = hits[scores[hits] >= threshold]
        ranked = hits[np.lexsort((hits, -scores[hits]))][:k]
        run[query_id] = {doc_ids[i]: float(scores[i]) for i in ranked}
    return run
