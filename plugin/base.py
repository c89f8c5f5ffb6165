"""The ``Backend`` protocol every search engine implements, its contract, and the values it exchanges.

The contract (identical on every engine; ``tests/test_backend_contract.py`` checks it on each):

* **Results.** A search returns a frozen ``SearchResult``: the hits, best first, and the
  engine's own time for the request in milliseconds (OpenSearch's ``took``; for the
  embedded engine, the time spent inside Lucene and fusion).
* **Ties.** Hits are ordered by score, descending, then by ``doc_id`` ascending. Documents
  tied with the ``k``-th hit are resolved by that same rule: the engine is asked for more
  hits until the tie group is complete (up to ``MAX_WINDOW`` hits).
* **k.** An ``int`` from 1 to ``MAX_K``; anything else raises ``ConfigError`` before the
  engine is contacted.
* **Indexing.** ``index()`` creates a missing index (as ``create_index()`` would). Ids
  already in the index are skipped (``IndexReport.skipped``). A ``doc_id`` repeated within
  one ``index()`` call is written once; each repeat is a failure. A document the engine
  refuses is listed in ``IndexReport.failures`` with the engine's reason; every other
  document is written, the refused one is not (``count`` and ``existing_ids`` leave it
  out) and a later ``index()`` call may write a corrected version. ``index()`` never raises
  for refused documents; whether they stop a run is the caller's decision
  (``sparsedoc.ingest.pipeline.index_encoded``). It raises ``BackendError`` only when the
  engine fails as a whole.
* **Missing index.** ``existing_ids`` returns an empty set; ``count`` and searches raise
  ``BackendError``.
* **Long queries.** Sparse (OpenSearch's ``search_analyzer`` too), BM25 and hybrid searches keep
  at most ``MAX_QUERY_TOKENS`` distinct terms of a query, those with the highest IDF
  (``sparsedoc.plugin.query_budget``), and say how many they dropped in ``SearchResult.dropped_tokens``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from sparsedoc.encoder.errors import ConfigError, IndexFailure
from sparsedoc.encoder.sparse_vector import SparseVector

from .explanation import Explanation
from .fusion import Fusion, default_fusion

MAX_K = 10_000
"""The largest ``k`` a search accepts (OpenSearch's default ``index.max_result_window``)."""

MAX_WINDOW = 10_000
"""The most hits a backend fetches to resolve ties at the ``k``-th place."""

DUPLICATE_IN_CALL = "duplicate doc_id within one index() call"


@dataclass(frozen=True)
class Hit:
    """One ranked search result."""

    doc_id: str
    score: float
    rank: int


@dataclass(frozen=True)
class SearchResult:
    """The hits of one search, best first, the engine's own time for it, and what the query budget cut.

    ``dropped_tokens`` counts the distinct query tokens (sparse) and analysed terms (BM25;
    both for hybrid) left out because the query had more than ``MAX_QUERY_TOKENS``
    (``sparsedoc.plugin.query_budget``).
    """

    hits: tuple[Hit, ...]
    took_ms: float
    dropped_tokens: int = 0

    @property
    def doc_ids(self) -> list[str]:
        """The hits' ids, best first."""
        return [hit.doc_id for hit in self.hits]

    def scores(self) -> dict[str, float]:
        """``doc_id -> score`` (a run for ``sparsedoc.encoder.metrics.evaluate_run``)."""
        return {hit.doc_id: hit.score for hit in self.hits}


@dataclass(frozen=True)
class EncodedDocument:
    """A document ready for indexing: its id, its text (for BM25) and its sparse vector."""

    doc_id: str
    text: str
    vector: SparseVector


@dataclass
class IndexReport:
    """What one ``Backend.index`` call did.

    ``skipped`` counts documents already present (a resumed run does not write them
    again); ``failures`` lists the documents that were not written, with reasons.
    """

    indexed: int = 0
    skipped: int = 0
    failures: list[IndexFailure] = field(default_factory=list)

    def merge(self, other: IndexReport) -> None:
        """Add ``other``'s counts and failures to this report."""
        self.indexed += other.indexed
        self.skipped += other.skipped
        self.failures.extend(other.failures)


@runtime_checkable
class Backend(Protocol):
    """A search engine holding one index of documents with text and sparse vectors.

    Implementations take all settings in their constructor, support ``with`` and follow
    the contract in this module's docstring. Sparse scores are the dot product of the
    query vector and the stored document vector (up to the engine's documented weight
    precision); BM25 scores the same documents' text; hybrid fuses the two
    (``sparsedoc.plugin.fusion``).
    """

    def create_index(self, *, overwrite: bool = False) -> None:
        """Create the index; an existing one is kept, or dropped first with ``overwrite``."""
        ...

    def index(self, documents: Iterable[EncodedDocument]) -> IndexReport:
        """Write documents (ids already present are skipped) and make them searchable."""
        ...

    def existing_ids(self, doc_ids: Sequence[str]) -> set[str]:
        """Return which of ``doc_ids`` are already in the index (for resuming)."""
        ...

    def count(self) -> int:
        """Return the number of documents in the index."""
        ...

    def search_sparse(self, query: SparseVector, k: int = 10) -> SearchResult:
        """Rank documents by dot product with ``query``; at most ``k`` hits."""
        ...

    def search_bm25(self, text: str, k: int = 10) -> SearchResult:
        """Rank documents by BM25 over their text; at most ``k`` hits."""
        ...

    def search_hybrid(
        self, text: str, query: SparseVector, k: int = 10, fusion: Fusion | None = None
    ) -> SearchResult:
        """Fuse BM25 over ``text`` with sparse search for ``query`` (``fusion``: how, through ``hybrid_fusion``)."""
        ...

    def hybrid_fusion(self, fusion: Fusion | None = None) -> Fusion:
        """The fusion ``search_hybrid`` uses: ``fusion``, an unset weight set by how the index was built."""
        ...

    def batch_search_sparse(self, queries: Mapping[str, SparseVector], k: int = 10) -> dict[str, SearchResult]:
        """Run ``search_sparse`` for each ``query_id -> vector``."""
        ...

    def batch_search_bm25(self, queries: Mapping[str, str], k: int = 10) -> dict[str, SearchResult]:
        """Run ``search_bm25`` for each ``query_id -> text``."""
        ...

    def record_build(self, record: Mapping[str, object]) -> None:
        """Store how the index was built (model, encoder settings, smoothing) in the index itself."""
        ...

    def build_record(self) -> dict[str, object]:
        """What ``record_build`` stored (``{}`` for an index built without a record)."""
        ...

    def explain(self, text: str, query: SparseVector, doc_id: str) -> Explanation:
        """Explain ``doc_id``'s sparse score for ``query`` token by token, and its BM25 score for ``text``.

        Raises:
            BackendError: no index, or no document ``doc_id`` in it.
        """
        ...

    def delete_index(self) -> None:
        """Delete the index and its data."""
        ...

    def close(self) -> None:
        """Release connections, readers and writers."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


class BackendBase:
    """Shared behaviour for backends: batch search by looping, and context management."""

    def search_sparse(self, query: SparseVector, k: int = 10) -> SearchResult:
        raise NotImplementedError

    def search_bm25(self, text: str, k: int = 10) -> SearchResult:
        raise NotImplementedError

    def build_record(self) -> dict[str, object]:
        raise NotImplementedError

    _smoothed: bool | None = None
    """Whether the build record says smoothed; ``None`` until ``hybrid_fusion`` first reads it."""

    def hybrid_fusion(self, fusion: Fusion | None = None) -> Fusion:
        """The fusion ``search_hybrid`` uses: ``fusion`` (default ``Fusion()``) as given, except that an unset
        sparse weight becomes the default for this index's build record, smoothed or not
        (``sparsedoc.plugin.fusion.default_fusion``: 0.5 or 0.4).

        The record is read only for ``min_max`` with an unset weight (RRF has none), once per backend
        object (a file on Lucene, the mapping on OpenSearch; a search must not pay for it), and again
        after this backend creates, deletes or records the build of its index.
        """
        if fusion is not None and (fusion.sparse_weight is not None or fusion.method == "rrf"):
            return fusion
        if self._smoothed is None:
            self._smoothed = bool(self.build_record().get("smoothing"))
        return default_fusion(self._smoothed, fusion)

    def _forget_build_record(self) -> None:
        """Make the next ``hybrid_fusion`` read the build record again (it was written or removed)."""
        self._smoothed = None

    def close(self) -> None:
        """Release resources (nothing by default)."""

    def batch_search_sparse(self, queries: Mapping[str, SparseVector], k: int = 10) -> dict[str, SearchResult]:
        """Run ``search_sparse`` for each ``query_id -> vector``."""
        return {query_id: self.search_sparse(vector, k) for query_id, vector in queries.items()}

    def batch_search_bm25(self, queries: Mapping[str, str], k: int = 10) -> dict[str, SearchResult]:
        """Run ``search_bm25`` for each ``query_id -> text``."""
        return {query_id: self.search_bm25(text, k) for query_id, text in queries.items()}

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def check_k(k: object) -> int:
    """Return ``k`` if it is an ``int`` from 1 to ``MAX_K``, else raise ``ConfigError``."""
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise ConfigError(f"k must be an integer from 1 to {MAX_K}, got {k!r}")
    return k


def ranked_hits(scored: Iterable[tuple[str, float]], k: int) -> tuple[Hit, ...]:
    """Turn ``(doc_id, score)`` pairs into the top-``k`` hits: score descending, then doc id."""
    ordered = sorted(scored, key=lambda pair: (-pair[1], pair[0]))[:k]
    return tuple(Hit(doc_id, score, rank) for rank, (doc_id, score) in enumerate(ordered, start=1))


Fetch = Callable[[int], tuple[list[tuple[str, float]], float]]


def top_k(fetch: Fetch, k: int, dropped_tokens: int = 0) -> SearchResult:
    """The top ``k`` under the contract's order, from an engine that breaks ties its own way.

    ``fetch(n)`` returns the engine's best ``n`` ``(doc_id, score)`` pairs (score
    descending) and its time in ms. It is called with ``k + 1``, then with twice as many
    while the last pair still ties with the ``k``-th, so every document tied with the
    ``k``-th is seen before the cut. ``dropped_tokens`` is passed on to the result.
    """
    window, took = min(k + 1, MAX_WINDOW), 0.0
    while True:
        pairs, ms = fetch(window)
        took += ms
        if len(pairs) <= k or len(pairs) < window or pairs[-1][1] < pairs[k - 1][1] or window >= MAX_WINDOW:
            return SearchResult(ranked_hits(pairs, k), took, dropped_tokens)
        window = min(2 * window, MAX_WINDOW)


def first_occurrences(documents: Iterable[EncodedDocument], failures: list[IndexFailure]) -> Iterator[EncodedDocument]:
    """Yield each ``doc_id``'s first document; append a failure for every repeat."""
    seen: set[str] = set()
    for document in documents:
        if document.doc_id in seen:
            failures.append(IndexFailure(document.doc_id, DUPLICATE_IN_CALL))
            continue
        seen.add(document.doc_id)
        yield document
