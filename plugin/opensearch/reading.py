"""The reading side of the OpenSearch backend: counts, sparse/BM25/hybrid search and explain.

``OpenSearchBackend`` (``sparsedoc.plugin.opensearch.backend``) builds on this class: its
constructor sets the state declared below, and it adds the index lifecycle and bulk writing.
Request bodies are built by ``sparsedoc.plugin.opensearch.queries``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from sparsedoc.encoder.errors import BackendError
from sparsedoc.encoder.sparse_vector import SparseVector

from ..base import BackendBase, SearchResult, check_k, ranked_hits, top_k
from ..explanation import Explanation, ScoreTree, TokenMatch, by_contribution
from ..fusion import Fusion
from ..query_budget import MAX_QUERY_TOKENS, budget_terms, budget_vector, may_exceed_budget
from .client import cluster_version, detect_query_mode, require_feature
from .errors import error_reason, translate_errors
from .features import FEATURES_SINCE, features_of
from .queries import (
    SparseQuery,
    analyzer_query,
    bm25_clause,
    bm25_query,
    hybrid_pipeline,
    hybrid_query,
    payload_float,
    sparse_query,
    stored_feature_value,
)

logger = logging.getLogger(__name__)


class OpenSearchReading(BackendBase):
    """Searches (sparse, analyzer, BM25, hybrid), counts and explanations on one OpenSearch index."""

    client: Any  # opensearchpy.OpenSearch
    url: str  # without user info
    index_name: str
    vector_field: str
    text_field: str
    _user: str | None  # named in 403 errors
    _mode: str  # the query mode; "auto" until resolved
    _pipelines: set[str]  # hybrid search pipelines created by this backend
    _analyzer_checked: bool

    # -- errors ----------------------------------------------------------------------------
    def _errors(self, action: str) -> AbstractContextManager[None]:
        return translate_errors(action, self.url, self._user)


    def existing_ids(self, doc_ids: Sequence[str]) -> set[str]:
        """Return the ids among ``doc_ids`` already in the index."""
        if not doc_ids:
            return set()
        from opensearchpy.exceptions import NotFoundError

        with self._errors(f"look up ids in {self.index_name}"):
            try:
                found = self.client.mget(index=self.index_name, body={"ids": list(doc_ids)}, _source=False)
            except NotFoundError:  # no index yet: nothing is present
                return set()
        return {doc["_id"] for doc in found["docs"] if doc.get("found")}

    def count(self) -> int:
        """Return the number of documents in the index."""
        with self._errors(f"count {self.index_name}"):
            return int(self.client.count(index=self.index_name)["count"])

    # -- searching -------------------------------------------------------------------------
    @property
    def query_mode(self) -> str:
        """The sparse query mode in use (``auto`` is resolved from the cluster's plugins)."""
        if self._mode == "auto":
            self._mode = detect_query_mode(self.client, self.url)
            logger.info("OpenSearch at %s: sparse queries use %s", self.url, self._mode)
        return self._mode

    def search_sparse(self, query: SparseVector, k: int = 10) -> SearchResult:
        """Rank by the dot product of ``query`` with the stored vectors.

        A query of more than ``MAX_QUERY_TOKENS`` tokens keeps the highest-weighted ones
        (``sparsedoc.plugin.query_budget``).
        """
        check_k(k)
        query, dropped = budget_vector(query)
        built = self._sparse_query(query, self.query_mode, k)
        return top_k(lambda n: self._search({**built.body, "size": n}, built.score_factor), k, dropped)

    def _sparse_query(self, query: SparseVector, mode: str, size: int) -> SparseQuery:
        built = sparse_query(query, field=self.vector_field, mode=mode, size=size)
        if built.dropped_tokens:
            logger.debug("rank_feature mode cannot address tokens with '.': dropped %s", built.dropped_tokens)
        return built

    def search_analyzer(self, text: str, k: int = 10, analyzer: str = "bert-uncased") -> SearchResult:
        """Inference-free search where OpenSearch tokenises and weights the query (3.1+).

        The query budget applies as in ``search_sparse``: a text that may hold more than
        ``MAX_QUERY_TOKENS`` distinct tokens is first analysed by the same analyzer (``_analyze``,
        which gives each token's weight); over the budget, its highest-weighted (highest-IDF)
        tokens go as ``query_tokens``, which score as the server scores that text (each distinct
        token once, with its weight). Otherwise the text goes unchanged.

        Raises:
            BackendError: the cluster runs OpenSearch older than 3.1, or the analyzer gives a
                long query's tokens no weights.
        """
        check_k(k)
        if not self._analyzer_checked:
            require_feature(self.client, self.url, "analyzer_query", "search by analyzer (query mode 'analyzer')")
            self._analyzer_checked = True
        if may_exceed_budget(text):
            tokens = self._analyzed_weights(text, analyzer)
            if len(tokens) > MAX_QUERY_TOKENS:
                query, dropped = budget_vector(tokens)
                built = self._sparse_query(query, "neural_sparse", k)
                return top_k(lambda n: self._search({**built.body, "size": n}, built.score_factor), k, dropped)
        body = analyzer_query(text, field=self.vector_field, analyzer=analyzer, size=k)
        return top_k(lambda n: self._search({**body, "size": n}), k)

    def _analyzed_weights(self, text: str, analyzer: str) -> SparseVector:
        """``text``'s distinct tokens by ``analyzer`` with the weights it gives them (float32 payloads)."""
        body = {"analyzer": analyzer, "text": text, "explain": True, "attributes": ["payload"]}
        with self._errors(f"analyse a long query with {analyzer} on {self.index_name}"):
            response = self.client.indices.analyze(index=self.index_name, body=body)
        tokens = ((response.get("detail") or {}).get("analyzer") or {}).get("tokens") or []
        if any("payload" not in token for token in tokens):
            raise BackendError(f"analyzer {analyzer!r} at {self.url} gives no token weights; the query budget "
                               f"({MAX_QUERY_TOKENS} tokens) cannot choose the highest-weighted ones")
        return SparseVector({token["token"]: payload_float(token["payload"]) for token in tokens})

    def search_bm25(self, text: str, k: int = 10) -> SearchResult:
        """Rank by BM25 over the text field.

        A text of more than ``MAX_QUERY_TOKENS`` distinct analysed terms keeps the highest-IDF
        ones (``sparsedoc.plugin.query_budget``; see ``_bm25_clause``).
        """
        check_k(k)
        clause, dropped = self._bm25_clause(text)
        body = bm25_query(clause, size=k)
        return top_k(lambda n: self._search({**body, "size": n}), k, dropped)

    def _bm25_clause(self, text: str) -> tuple[dict[str, Any], int]:
        """The BM25 clause for ``text`` within the query budget, and how many terms it dropped.

        A text that may hold more than ``MAX_QUERY_TOKENS`` distinct terms is analysed by the
        index's own analyzer, with document frequencies, in one ``_termvectors`` request on an
        artificial document; with more terms than the budget, the highest-IDF ones become a
        ``bool`` of ``term`` queries. Document frequencies come from the shard the artificial
        document routes to: exact with one shard (the default), an estimate with more.
        """
        if not may_exceed_budget(text):
            return bm25_clause(text, field=self.text_field), 0
        counts, frequencies = self._term_statistics(text)
        if len(counts) <= MAX_QUERY_TOKENS:
            return bm25_clause(text, field=self.text_field), 0
        kept, dropped = budget_terms(counts, lambda _terms: frequencies)
        return bm25_clause(text, field=self.text_field, terms=kept), dropped

    def _term_statistics(self, text: str) -> tuple[dict[str, int], dict[str, int]]:
        """``text``'s analysed terms with their counts in it, and their document frequencies."""
        body = {"doc": {self.text_field: text}, "fields": [self.text_field], "term_statistics": True,
                "field_statistics": False, "positions": False, "offsets": False, "payloads": False}
        with self._errors(f"analyse a long query on {self.index_name}"):
            response = self.client.termvectors(index=self.index_name, body=body)
        terms = (response.get("term_vectors") or {}).get(self.text_field, {}).get("terms", {})
        return ({term: int(stats["term_freq"]) for term, stats in terms.items()},
                {term: int(stats.get("doc_freq", 0)) for term, stats in terms.items()})

    def search_hybrid(
        self, text: str, query: SparseVector, k: int = 10, fusion: Fusion | None = None
    ) -> SearchResult:
        """A ``hybrid`` query (BM25 ``match`` + ``neural_sparse``) fused by a search pipeline.

        The pipeline (``normalization-processor`` for ``min_max``, ``score-ranker-processor``
        for ``rrf``) is created on first use, named after the fusion settings. Each
        sub-query keeps its top ``fusion.window_for(k)`` hits, and at most ``MAX_QUERY_TOKENS``
        terms (``sparsedoc.plugin.query_budget``); ``dropped_tokens`` counts both cuts. ``fusion``
        goes through ``hybrid_fusion``: without a sparse weight, the index's default (0.5 if it was
        built with smoothing, else 0.4).

        Raises:
            ConfigError: ``k`` is out of range.
            BackendError: the cluster lacks the neural-search plugin, or is too old for
                the fusion method (``min_max`` needs 2.10+, ``rrf`` 2.19+).
        """
        check_k(k)
        fusion = self.hybrid_fusion(fusion)
        pipeline = self._hybrid_pipeline(fusion)
        window = fusion.window_for(k)
        query, sparse_dropped = budget_vector(query)
        built = sparse_query(query, field=self.vector_field, mode="neural_sparse", size=window)
        clause, bm25_dropped = self._bm25_clause(text)
        body = hybrid_query(clause, built.body["query"], size=window)
        pairs, took = self._search(body, params={"search_pipeline": pipeline})
        return SearchResult(ranked_hits(pairs, k), took, sparse_dropped + bm25_dropped)

    def explain(self, text: str, query: SparseVector, doc_id: str) -> Explanation:
        """Explain ``doc_id``'s sparse score for ``query`` token by token, and its BM25 score for ``text``.

        Document weights are the stored ``rank_features`` values (``_source`` at the field's
        9-bit precision, ``stored_feature_value``); ``sparse_score`` and the BM25 tree come
        from OpenSearch's ``_explain`` API. Both queries are cut by the query budget as in
        search; in ``rank_feature`` mode, tokens containing ``.`` are left out as in search.

        Raises:
            BackendError: no index, no document ``doc_id`` in it, or the request failed.
        """
        query, sparse_dropped = budget_vector(query)
        built = self._sparse_query(query, self.query_mode, 1)
        stored = self._stored_vector(doc_id)
        clause, bm25_dropped = self._bm25_clause(text)
        unaddressable = set(built.dropped_tokens)
        matches = (TokenMatch(token, weight, stored_feature_value(stored[token])) for token, weight in query.items()
                   if token in stored and token not in unaddressable)
        sparse_score = self._explain(doc_id, built.body["query"]).value * built.score_factor
        return Explanation(doc_id, by_contribution(matches), sparse_score, self._explain(doc_id, clause),
                           sparse_dropped + bm25_dropped)

    def _stored_vector(self, doc_id: str) -> dict[str, float]:
        with self._errors(f"read document {doc_id!r} of {self.index_name}"):
            found = self.client.get(index=self.index_name, id=doc_id, _source_includes=[self.vector_field],
                                    params={"ignore": 404})
        if "error" in found:
            raise BackendError(f"read document {doc_id!r} at {self.url}: {error_reason(found)}")
        if not found.get("found"):
            raise BackendError(f"no document {doc_id!r} in index {self.index_name} at {self.url}")
        stored = (found.get("_source") or {}).get(self.vector_field, {})
        return {token: float(weight) for token, weight in stored.items()}

    def _explain(self, doc_id: str, query: dict[str, Any]) -> ScoreTree:
        with self._errors(f"explain document {doc_id!r} in {self.index_name}"):
            response = self.client.explain(index=self.index_name, id=doc_id, body={"query": query})
        return ScoreTree.from_dict(response.get("explanation") or {"value": 0.0, "description": "no match"})

    def _hybrid_pipeline(self, fusion: Fusion) -> str:
        """Create (once per backend) the search pipeline for ``fusion``; return its name."""
        name = f"sparsedoc-hybrid-{fusion.method}-" + (
            f"{fusion.rank_constant}" if fusion.method == "rrf" else f"{round(fusion.weights[1] * 1000):04d}")
        if name in self._pipelines:
            return name
        if self.query_mode != "neural_sparse":
            raise BackendError(f"hybrid search needs the neural-search plugin, which OpenSearch at {self.url} lacks")
        feature = f"hybrid_{fusion.method}"
        version = cluster_version(self.client, self.url)
        if feature not in features_of(version):
            want = ".".join(map(str, FEATURES_SINCE[feature]))
            raise BackendError(f"{fusion.method} fusion needs OpenSearch {want}+, but {self.url} runs {version}")
        with self._errors(f"create search pipeline {name}"):
            self.client.transport.perform_request("PUT", f"/_search/pipeline/{name}", body=hybrid_pipeline(fusion))
        self._pipelines.add(name)
        return name

    def _search(self, body: dict[str, Any], score_factor: float = 1.0, params: dict[str, Any] | None = None
                ) -> tuple[list[tuple[str, float]], float]:
        with self._errors(f"search {self.index_name}"):
            response = self.client.search(index=self.index_name, body=body, params=params or {})
        shards = response.get("_shards") or {}
        if shards.get("failed"):  # never return silently fewer hits
            reasons = "; ".join(sorted({error_reason(f.get("reason")) for f in shards.get("failures") or []}))
            raise BackendError(f"search {self.index_name} at {self.url}: {shards['failed']} of {shards.get('total')} "
                               f"shards failed, so results would be incomplete: {reasons or 'no reason given'}")
        pairs = [(hit["_id"], float(hit["_score"]) * score_factor) for hit in response["hits"]["hits"]]
        return pairs, float(response.get("took", 0.0))
