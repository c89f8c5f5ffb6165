"""Latency methods on OpenSearch: raw requests that return the server's ``took``.

A *method* (see ``sparsedoc.plugin.latency_bench``) runs query number ``i`` and returns the
engine-reported milliseconds. These send searches with opensearch-py directly, so that an
index, a search pipeline or SEISMIC ``method_parameters`` can be chosen per method; every
request body is built by ``sparsedoc.plugin.opensearch.queries``, as the backend's are.
``slowlog_took_ms`` reads finer server times from a node's search slow log.

Example:
    >>> runner = OpenSearchMethods(client, "docs", k=10)  # doctest: +SKIP
    >>> methods = {"BM25": runner.bm25(texts), "sparse": runner.sparse(vectors)}  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sparsedoc.encoder.errors import BackendError, ConfigError
from sparsedoc.encoder.sparse_vector import SparseVector

from ..latency_bench import Method
from .queries import bm25_clause, bm25_query, sparse_query

__all__ = ["OpenSearchMethods", "slowlog_took_ms"]

logger = logging.getLogger(__name__)


class OpenSearchMethods:
    """Raw OpenSearch requests (opensearch-py) that return the server's ``took``.

    Args:
        client: an ``opensearchpy.OpenSearch`` client.
        index: index name.
        text_field: the BM25 text field.
        vector_field: the ``rank_features`` (or ``sparse_vector``) field.
        k: hits per request.
        query_style: ``"neural_sparse"`` (neural-search plugin) or ``"rank_feature"``
            (core OpenSearch, a bool of linear ``rank_feature`` clauses; tokens with a ``.``
            cannot be addressed and are left out, with a warning).

    Each call returns a ``Method``; its requests ask for no ``_source`` (ids only).
    """

    QUERY_STYLES = ("neural_sparse", "rank_feature")

    def __init__(self, client: Any, index: str, *, text_field: str = "text", vector_field: str = "sparse",
                 k: int = 100, query_style: str = "neural_sparse") -> None:
        if query_style not in self.QUERY_STYLES:
            raise ConfigError(f"query_style must be one of {self.QUERY_STYLES}, got {query_style!r}")
        if k < 1:
            raise ConfigError(f"k must be >= 1, got {k}")
        self.client, self.index, self.k = client, index, k
        self.text_field, self.vector_field, self.query_style = text_field, vector_field, query_style
        self._warned_dropped = False

    def search(self, body: dict[str, Any], *, index: str | None = None, params: dict[str, Any] | None = None
               ) -> dict[str, Any]:
        """Send one search and return the response (raises ``BackendError`` on failure)."""
        try:
            return self.client.search(index=index or self.index, body=body, params=params or {})
        except Exception as exc:  # opensearch-py raises several unrelated types
            raise BackendError(f"search on {index or self.index} failed: {exc}") from exc

    def bm25_body(self, text: str) -> dict[str, Any]:
        """``match`` query on the text field."""
        return bm25_query(bm25_clause(text, field=self.text_field), size=self.k)

    def sparse_body(self, vector: SparseVector | Mapping[str, float], *, field: str | None = None,
                    method_parameters: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Dot-product query for ``vector`` (``neural_sparse`` whenever ``method_parameters`` are given).

        Weights above ``MAX_LINEAR_WEIGHT`` are scaled down (the ranking is unchanged; the
        scores, unused here, would be scaled by the query's ``score_factor``).
        """
        mode = "neural_sparse" if method_parameters is not None else self.query_style
        built = sparse_query(vector, field=field or self.vector_field, mode=mode, size=self.k,
                             method_parameters=method_parameters)
        if built.dropped_tokens and not self._warned_dropped:
            logger.warning("rank_feature queries cannot address tokens with '.': left out %s (and maybe more)",
                           list(built.dropped_tokens))
            self._warned_dropped = True
        return built.body

    def bm25(self, texts: Sequence[str]) -> Method:
        """A method running BM25 for ``texts[i]``."""
        bodies = [self.bm25_body(t) for t in texts]
        return lambda i: float(self.search(bodies[i])["took"])

    def sparse(self, vectors: Sequence[SparseVector] | Callable[[int], SparseVector], *,
               index: str | None = None, field: str | None = None, pipeline: str | None = None,
               method_parameters: Mapping[str, Any] | None = None) -> Method:
        """A method running the sparse query ``i``; optionally through a search pipeline.

        With precomputed ``vectors`` the bodies are built once; with an encoding function
        each call encodes (tokenise + IDF), so that cost is part of the latency.
        """
        params = {"search_pipeline": pipeline} if pipeline else None

        def body(vector: SparseVector) -> dict[str, Any]:
            return self.sparse_body(vector, field=field, method_parameters=method_parameters)

        if callable(vectors):
            encode = vectors
            return lambda i: float(self.search(body(encode(i)), index=index, params=params)["took"])
        bodies = [body(v) for v in vectors]
        return lambda i: float(self.search(bodies[i], index=index, params=params)["took"])

    def ids(self, body: dict[str, Any], *, index: str | None = None, pipeline: str | None = None) -> list[str]:
        """The hit ids of one request (for recall against an exact run)."""
        params = {"search_pipeline": pipeline} if pipeline else None
        return [hit["_id"] for hit in self.search(body, index=index, params=params)["hits"]["hits"]]


_TOOK = re.compile(r"\[(?P<index>[^\]]+)\]\[\d+\] took\[(?P<value>[\d.]+)(?P<unit>nanos|micros|ms|s|m)\]")
_UNIT_MS = {"nanos": 1e-6, "micros": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def slowlog_took_ms(path: Path, offset: int, index: str) -> list[float]:
    """The ``took`` (ms) of every search slow log entry of ``index`` written after byte ``offset``.

    With ``index.search.slowlog.threshold.query.warn: 0ms`` OpenSearch logs every query phase
    with the shard's own timer at µs precision (``took`` in a response is whole ms); units are
    as ``TimeValue`` prints them (``nanos``, ``micros``, ``ms``, ``s``, ``m``).
    """
    with path.open("rb") as handle:
        handle.seek(offset)
        lines = handle.read().decode("utf-8", errors="replace").splitlines()
    times = []
    for line in lines:
        match = _TOOK.search(line)
        if match and match["index"] == index:
            times.append(float(match["value"]) * _UNIT_MS[match["unit"]])
    return times
