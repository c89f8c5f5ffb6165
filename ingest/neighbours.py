"""k nearest neighbours of documents among documents, by inner product of unit embeddings.

Three ways, one result type (``Neighbours``):

- ``exact_neighbours``: blocked matrix products in memory (exact; the default up to
  ``EXACT_LIMIT`` documents, about 80 s for 100k documents of 384 dimensions on 2 cores).
- ``hnsw_neighbours``: faiss' HNSW graph (``pip install 'sparsedoc[smoothing]'``) above that.
- a k-NN index in OpenSearch for corpora beyond one machine: any object with the
  ``NeighbourSearcher`` shape (``sparsedoc.plugin.opensearch.knn.OpenSearchKnn``).

A document is never its own neighbour: ``exclude`` names, per query row, the corpus row to skip.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from sparsedoc.encoder.errors import ConfigError
from sparsedoc.encoder.extras import import_extra

EXACT_LIMIT = 200_000
"""Corpora up to this many documents get exact neighbours; larger ones an HNSW graph."""


@dataclass(frozen=True)
class Neighbours:
    """Per query row: corpus rows of its neighbours (best first; -1 where fewer exist) and their similarities."""

    rows: np.ndarray
    similarities: np.ndarray


class NeighbourSearcher(Protocol):
    """Finds the ``k`` nearest stored documents of each embedding (ids, best first, with similarities)."""

    def neighbours(self, ids: Sequence[str], vectors: np.ndarray, k: int) -> list[list[tuple[str, float]]]: ...


def exact_neighbours(queries: np.ndarray, corpus: np.ndarray, k: int, *, exclude: np.ndarray | None = None,
                     block: int = 1024) -> Neighbours:
    """The exact top ``k`` corpus rows by inner product for each query row, ``block`` queries at a time."""
    _check(queries, corpus, k, exclude)
    kept = min(k, corpus.shape[0] - (1 if exclude is not None else 0))
    rows = np.full((queries.shape[0], k), -1, np.int64)
    sims = np.zeros((queries.shape[0], k), np.float32)
    if kept <= 0:
        return Neighbours(rows, sims)
    for start in range(0, queries.shape[0], block):
        scores = queries[start:start + block] @ corpus.T
        if exclude is not None:
            part = exclude[start:start + block]
            valid = part >= 0
            scores[np.nonzero(valid)[0], part[valid]] = -np.inf
        top = np.argpartition(-scores, kept - 1, axis=1)[:, :kept]
        top_scores = np.take_along_axis(scores, top, axis=1)
        order = np.lexsort((top, -top_scores), axis=1)  # best first; equal scores by row number
        rows[start:start + block, :kept] = np.take_along_axis(top, order, axis=1)
        sims[start:start + block, :kept] = np.take_along_axis(top_scores, order, axis=1)
    return Neighbours(rows, sims)


def hnsw_neighbours(queries: np.ndarray, corpus: np.ndarray, k: int, *, exclude: np.ndarray | None = None,
                    links: int = 32, ef_search: int = 128, threads: int | None = None) -> Neighbours:
    """Approximate top ``k`` by faiss' HNSW (inner product); ``exclude`` rows are dropped from the results."""
    _check(queries, corpus, k, exclude)
    faiss = import_extra("faiss", "approximate neighbours for smoothing")
    if threads:
        faiss.omp_set_num_threads(threads)
    index = faiss.IndexHNSWFlat(corpus.shape[1], links, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efSearch = max(ef_search, k + 1)
    index.add(np.ascontiguousarray(corpus, np.float32))
    found_sims, found_rows = index.search(np.ascontiguousarray(queries, np.float32), k + 1)
    rows = np.full((queries.shape[0], k), -1, np.int64)
    sims = np.zeros((queries.shape[0], k), np.float32)
    for i in range(queries.shape[0]):
        skip = exclude[i] if exclude is not None else -1
        keep = [(r, s) for r, s in zip(found_rows[i], found_sims[i], strict=True) if r >= 0 and r != skip][:k]
        for j, (r, s) in enumerate(keep):
            rows[i, j], sims[i, j] = r, s
    return Neighbours(rows, sims)


def corpus_neighbours(queries: np.ndarray, corpus: np.ndarray, k: int, *, exclude: np.ndarray | None = None,
                      exact_limit: int = EXACT_LIMIT) -> Neighbours:
    """Exact neighbours for corpora up to ``exact_limit`` rows, HNSW above."""
    if corpus.shape[0] <= exact_limit:
        return exact_neighbours(queries, corpus, k, exclude=exclude)
    return hnsw_neighbours(queries, corpus, k, exclude=exclude)


def _check(queries: np.ndarray, corpus: np.ndarray, k: int, exclude: np.ndarray | None) -> None:
    if k < 1:
        raise ConfigError(f"the number of neighbours must be >= 1, got {k}")
    if queries.ndim != 2 or corpus.ndim != 2 or (corpus.shape[0] and queries.shape[1] != corpus.shape[1]):
        raise ConfigError(f"embedding shapes differ: {queries.shape} and {corpus.shape}")
    if exclude is not None and exclude.shape != (queries.shape[0],):
        raise ConfigError(f"exclude needs one row per query, got {exclude.shape}")


def searcher_finder(searcher: NeighbourSearcher, ids: Sequence[str]) -> Callable[..., Neighbours]:
    """Adapt a ``NeighbourSearcher`` (e.g. an OpenSearch k-NN index holding ``ids``) to ``exact_neighbours``' shape.

    The returned function needs ``exclude``: each query row's own corpus row, which names its id.
    """
    position = {doc_id: i for i, doc_id in enumerate(ids)}

    def find(queries: np.ndarray, corpus: np.ndarray, k: int, *, exclude: np.ndarray | None = None) -> Neighbours:
        if exclude is None:
            raise ConfigError("a k-NN searcher needs each query's own row (exclude) to know its id")
        _check(queries, corpus, k, exclude)
        found = searcher.neighbours([ids[r] for r in exclude], queries, k)
        rows = np.full((queries.shape[0], k), -1, np.int64)
        sims = np.zeros((queries.shape[0], k), np.float32)
        for i, hits in enumerate(found):
            known = [(position[doc_id], sim) for doc_id, sim in hits if doc_id in position][:k]
            for j, (row, sim) in enumerate(known):
                rows[i, j], sims[i, j] = row, sim
        return Neighbours(rows, sims)

    return find
