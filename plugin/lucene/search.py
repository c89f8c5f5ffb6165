"""Lucene queries built from Python, ``TopDocs`` read back cheaply, and two-phase rescoring.

Sparse queries are a ``BooleanQuery`` of SHOULD ``BoostQuery(TermQuery(token), weight)``
clauses, built in one call by ``BagOfWordsQueryGenerator.buildQuery(field, Map<String, Float>)``
from a JSON map (three times faster than assembling the clauses through pyjnius). Unlike
Anserini's ``SimpleImpactSearcher``, nothing rounds query weights to integers or drops a token
for a low IDF (a token present in every document still scores).

Each search result crosses the JNI boundary once, as a JSON string, instead of one pyjnius
proxy per hit; document ids come from a per-reader cache of Lucene doc number -> id.

Both queries keep at most ``MAX_QUERY_TOKENS`` distinct terms (``sparsedoc.plugin.query_budget``),
well within Lucene's limit of 1,024 clauses: sparse vectors are cut by the backend before
they get here, BM25 texts here (their analysed terms, by document frequency).
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterable
from typing import Any

from sparsedoc.encoder.sparse_vector import SparseVector

from ..explanation import ScoreTree
from ..query_budget import budget_terms, may_exceed_budget
from .index import TEXT_FIELD, VECTOR_FIELD, LuceneClasses

_SEARCHER_SIGNATURE = "(Lorg/apache/lucene/index/IndexReader;)V"


def open_searchers(classes: LuceneClasses, reader: Any, bm25_similarity: Any) -> tuple[Any, Any]:
    """The impact (sparse) and BM25 searchers over ``reader``, instances of two proxy classes.

    Hybrid search calls them from two threads at once; pyjnius method objects are per proxy
    class (``sparsedoc.plugin.lucene.jvm.java_class``), so each searcher has its own.
    """
    impact = classes.ImpactSearcher(reader, signature=_SEARCHER_SIGNATURE)
    impact.setSimilarity(classes.ImpactSimilarity())
    bm25 = classes.IndexSearcher(reader, signature=_SEARCHER_SIGNATURE)
    bm25.setSimilarity(bm25_similarity)
    return impact, bm25


class QueryBuilder:
    """Builds the sparse (impact) and BM25 (English-analysed text) queries of one index."""

    def __init__(self, classes: LuceneClasses) -> None:
        self._j = classes
        self._generator = classes.BagOfWordsQueryGenerator()
        self.analyzer = classes.DefaultEnglishAnalyzer.newDefaultInstance()

    def sparse(self, query: SparseVector) -> Any:
        """A query scoring ``sum(query weight * stored impact)`` over the vector field.

        ``query`` has at most ``MAX_QUERY_TOKENS`` tokens (``budget_vector``); more than
        Lucene's clause limit raise ``TooManyClauses``.
        """
        return self._generator.buildQuery(VECTOR_FIELD, self._j.weights_reader.readValue(json.dumps(query.to_dict())))

    def bm25(self, text: str, reader: Any) -> tuple[Any, int]:
        """A bag-of-words query over the text field, analysed like the indexed text; and the terms it dropped.

        Each distinct analysed term is one clause boosted by its count in ``text``. A text
        with more than ``MAX_QUERY_TOKENS`` distinct terms keeps those with the lowest
        document frequency in ``reader`` (``budget_terms``); a short text is built in one call.
        """
        if not may_exceed_budget(text):
            return self._generator.buildQuery(TEXT_FIELD, self.analyzer, text), 0
        j = self._j
        term_counts = j.AnalyzerUtils.computeDocumentVector(self.analyzer, text)
        counts = json.loads(j.json_writer.writeValueAsString(term_counts))
        kept, dropped = budget_terms(counts, lambda terms: {t: reader.docFreq(j.Term(TEXT_FIELD, t)) for t in terms})
        return self._generator.buildQuery(TEXT_FIELD, j.weights_reader.readValue(json.dumps(kept))), dropped


def impacts_of(classes: LuceneClasses, reader: Any, doc: int, tokens: Iterable[str]) -> dict[str, int]:
    """The stored impact of each of ``tokens`` that Lucene document ``doc`` holds (its term frequency)."""
    impacts = {}
    for token in tokens:
        postings = classes.MultiTerms.getTermPostingsEnum(
            reader, VECTOR_FIELD, classes.BytesRef(token, signature="(Ljava/lang/CharSequence;)V"))
        if postings is not None and postings.advance(doc) == doc:
            impacts[token] = int(postings.freq())
    return impacts


def score_tree(explanation: Any) -> ScoreTree:
    """A Lucene ``Explanation`` as a ``ScoreTree``."""
    return ScoreTree(float(explanation.getValue().doubleValue()), str(explanation.getDescription()),
                     tuple(score_tree(child) for child in explanation.getDetails()))


class HitReader:
    """Turns ``TopDocs`` into ``(doc_id, score)`` pairs for one index reader.

    Call ``clear`` whenever the reader changes: the id cache is keyed by Lucene doc
    numbers, which a merge or reopen renumbers. Two threads may read hits at once (hybrid
    search): they share the cache, and each dict lookup or insertion is atomic.
    """

    def __init__(self, classes: LuceneClasses) -> None:
        self._j = classes
        self.doc_ids: dict[int, str] = {}

    def clear(self) -> None:
        """Forget the cached ids (the reader changed)."""
        self.doc_ids = {}

    def score_docs(self, top: Any) -> list[tuple[int, float]]:
        """``TopDocs`` as ``(Lucene doc number, score)`` pairs, crossing JNI as one JSON string.

        Each hit is written ``[doc, score, shardIndex]`` (``index``'s Jackson mapper),
        its float score as the shortest decimal; rounding that back to float32 (an
        ``array("f")``) recovers the exact score Lucene computed.
        """
        docs = json.loads(self._j.json_writer.writeValueAsString(top))["scoreDocs"]
        scores = array("f", [doc[1] for doc in docs]).tolist()
        return [(doc[0], score) for doc, score in zip(docs, scores, strict=True)]

    def pairs(self, top: Any, searcher: Any) -> list[tuple[str, float]]:
        """``TopDocs`` as ``(doc_id, score)`` pairs, best first.

        On a cache miss, Anserini's ``ScoredDocs.fromTopDocs`` reads the ``id`` stored field
        of every hit inside Java (0.14 ms at ``k=100``) and fills the cache; it grows to at
        most one entry per document.
        """
        docs = self.score_docs(top)
        ids = self.doc_ids
        if any(doc not in ids for doc, _ in docs):
            scored = self._j.ScoredDocs.fromTopDocs(top, searcher)
            ids.update(zip(scored.lucene_docids, (str(doc_id) for doc_id in scored.docids), strict=True))
        return [(ids[doc], score) for doc, score in docs]


def two_phase_search(classes: LuceneClasses, searcher: Any, hits: HitReader, high: Any, low: Any | None,
                     n: int, window: int) -> list[tuple[str, float]]:
    """Phase one: ``high`` retrieves ``window`` candidates; phase two adds ``low``'s scores (exact sums).

    When ``high`` matches fewer than ``n`` documents, the rest of the top ``n`` can only come
    from ``low``: both then run as one exact query. Scores are raw impact sums.
    """
    top = searcher.search(high, window)
    if low is not None and len(hits.score_docs(top)) < n:  # fewer candidates than hits: search exactly
        exact = classes.BooleanQueryBuilder().add(high, classes.SHOULD).add(low, classes.SHOULD).build()
        top = searcher.search(exact, n)
    elif low is not None:
        top = classes.QueryRescorer.rescore(searcher, top, low, 1.0, n)
    return hits.pairs(top, searcher)[:n]
