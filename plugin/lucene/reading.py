"""The reading side of the embedded Lucene backend: the reader kept fresh, every search, and explain.

``LuceneBackend`` (``sparsedoc.plugin.lucene.backend``) builds on this class: its constructor
sets the state declared below, and it adds the index lifecycle and writing. Query building and
reading hits back from Java are in ``sparsedoc.plugin.lucene.search``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import wait
from pathlib import Path
from typing import Any

from sparsedoc.encoder.errors import BackendError
from sparsedoc.encoder.sparse_vector import SparseVector

from ..approximate import Seismic, TwoPhase, split_query
from ..base import BackendBase, Hit, SearchResult, check_k, top_k
from ..explanation import Explanation, TokenMatch, by_contribution
from ..fusion import Fusion, fuse
from ..query_budget import budget_vector
from .index import ID_FIELD, one_line
from .jvm import JavaWorker
from .search import HitReader, QueryBuilder, impacts_of, open_searchers, score_tree, two_phase_search
from .seismic import SeismicSidecar


class LuceneReading(BackendBase):
    """Searches (sparse, BM25, hybrid), counts and explanations on one Lucene index folder.

    Every method takes ``_lock``; the reader and both searchers (impacts, BM25) are opened on
    first use and reopened after this backend's commits (``_refresh``). Hybrid search runs its
    sparse search on ``_worker``'s thread, which ``close`` stops.
    """

    path: Path
    impact_scale: float
    approximate: TwoPhase | Seismic | None
    _seismic: SeismicSidecar | None
    _j: Any  # LuceneClasses: the Java classes
    _lock: threading.RLock
    _worker: JavaWorker  # hybrid search's second thread
    _directory: Any
    _writer: Any  # DocumentWriter, while open
    _reader: Any
    _impact_searcher: Any
    _bm25_searcher: Any
    _hits: HitReader
    _bm25_similarity: Any
    _queries: QueryBuilder

    def existing_ids(self, doc_ids: Sequence[str]) -> set[str]:
        """Return which of ``doc_ids`` are in the index (none if there is no index yet)."""
        with self._lock:
            if not self._exists():
                return set()
            self._refresh()
            return {doc_id for doc_id in doc_ids if self._contains(doc_id)}

    def count(self) -> int:
        """Return the number of documents in the index.

        Raises:
            BackendError: there is no index at ``path``.
        """
        with self._lock:
            self._require_reader()
            return int(self._reader.numDocs())

    def search_sparse(self, query: SparseVector, k: int = 10) -> SearchResult:
        """Rank documents by ``sum(query weight * dequantised document weight)``.

        Query weights are used as float32 boosts (no quantisation, no IDF cut-off); a query of
        more than ``MAX_QUERY_TOKENS`` tokens keeps the highest-weighted ones
        (``sparsedoc.plugin.query_budget``). With ``approximate`` set, the ranking is
        approximate (see ``sparsedoc.plugin.approximate``).

        Raises:
            ConfigError: ``k`` is out of range.
            BackendError: no index at ``path``, Lucene failed, or SEISMIC search was asked
                of an index whose documents were written without it.
        """
        check_k(k)
        query, dropped = budget_vector(query)
        with self._lock:
            self._require_reader()
            if not query:
                return SearchResult((), 0.0)
            seismic = self._seismic
            if seismic is not None:
                return top_k(lambda n: self._timed(lambda: seismic.search(query, n, self._reader.numDocs())), k,
                             dropped)
            two_phase = self.approximate
            if isinstance(two_phase, TwoPhase):
                high, low = split_query(query, two_phase.prune_ratio)
                phases = self._build_sparse(high), (self._build_sparse(low) if low else None)
                return top_k(lambda n: self._timed(lambda: self._two_phase(two_phase, phases, n), self.impact_scale),
                             k, dropped)
            lucene_query = self._build_sparse(query)
            return top_k(lambda n: self._timed(lambda: self._run(self._impact_searcher, lucene_query, n),
                                               self.impact_scale), k, dropped)

    def _two_phase(self, settings: TwoPhase, phases: tuple[Any, Any], n: int) -> list[tuple[str, float]]:
        with self._java_errors("searching (two-phase)"):
            return two_phase_search(self._j, self._impact_searcher, self._hits, *phases, n, settings.window(n))

    def search_bm25(self, text: str, k: int = 10) -> SearchResult:
        """Rank documents by BM25(k1, b) over their text, the query analysed like the text.

        A text of more than ``MAX_QUERY_TOKENS`` distinct analysed terms keeps the highest-IDF
        ones (``sparsedoc.plugin.query_budget``).

        Raises:
            ConfigError: ``k`` is out of range.
            BackendError: no index at ``path``, or Lucene failed.
        """
        check_k(k)
        with self._lock:
            self._require_reader()
            query, dropped = self._build_bm25(text)
            return top_k(lambda n: self._timed(lambda: self._run(self._bm25_searcher, query, n)), k, dropped)

    def search_hybrid(
        self, text: str, query: SparseVector, k: int = 10, fusion: Fusion | None = None
    ) -> SearchResult:
        """Fuse BM25 over ``text`` and sparse search for ``query`` (``sparsedoc.plugin.fusion``).

        ``fusion`` goes through ``hybrid_fusion``: without a sparse weight, the index's default
        (0.5 if it was built with smoothing, else 0.4).

        Each sub-query contributes its top ``fusion.window_for(k)`` hits, as in OpenSearch's
        ``hybrid`` query; ``took_ms`` covers both searches and the fusion. The two searches run
        at the same time on the same reader, under one lock acquisition: the sparse one on this
        backend's worker thread (started by the first hybrid search, stopped by ``close``)
        while the calling thread runs BM25, as pyjnius releases the GIL during Java calls.
        Results are those of running them one after the other. Each keeps at most
        ``MAX_QUERY_TOKENS`` terms (``sparsedoc.plugin.query_budget``); ``dropped_tokens``
        counts both cuts.

        Raises:
            ConfigError: ``k`` is out of range.
            BackendError: no index at ``path``, or Lucene failed.
        """
        check_k(k)
        fusion = self.hybrid_fusion(fusion)
        window = fusion.window_for(k)
        query, sparse_dropped = budget_vector(query)
        with self._lock:
            self._require_reader()
            start = time.perf_counter()
            bm25_query, bm25_dropped = self._build_bm25(text)
            pending = (self._worker.submit(self._run, self._impact_searcher, self._build_sparse(query), window)
                       if query else None)
            try:
                bm25 = self._run(self._bm25_searcher, bm25_query, window)
            finally:
                if pending is not None:
                    wait([pending])  # nothing left running on the worker once the lock is released
            sparse = ([(doc_id, score / self.impact_scale) for doc_id, score in pending.result()]
                      if pending is not None else [])
            fused = fuse([bm25, sparse], fusion)[:k]  # best first, ties by doc id: the contract's order
            hits = tuple(Hit(doc_id, score, rank) for rank, (doc_id, score) in enumerate(fused, start=1))
            return SearchResult(hits, (time.perf_counter() - start) * 1000.0, sparse_dropped + bm25_dropped)

    def explain(self, text: str, query: SparseVector, doc_id: str) -> Explanation:
        """Explain ``doc_id``'s sparse score for ``query`` token by token, and its BM25 score for ``text``.

        Document weights are the stored impacts divided by the scale, query weights the
        float32 boosts Lucene multiplies them by; ``sparse_score`` and the BM25 tree come from
        Lucene's ``IndexSearcher.explain``. Both queries are cut by the query budget as in search.

        Raises:
            BackendError: no index at ``path``, no document ``doc_id`` in it, or Lucene failed.
        """
        query, sparse_dropped = budget_vector(query)
        with self._lock:
            self._require_reader()
            bm25_query, bm25_dropped = self._build_bm25(text)
            with self._java_errors(f"explaining document {doc_id!r}"):
                top = self._bm25_searcher.search(self._j.TermQuery(self._j.Term(ID_FIELD, doc_id)), 1)
                numbers = [number for number, _ in self._hits.score_docs(top)]
                if not numbers:
                    raise BackendError(f"no document {doc_id!r} in Lucene index {self.path}")
                impacts = impacts_of(self._j, self._reader, numbers[0], query)
                sparse_score = (self._impact_searcher.explain(self._build_sparse(query), numbers[0]).getValue()
                                .doubleValue() / self.impact_scale) if query else 0.0
                bm25 = score_tree(self._bm25_searcher.explain(bm25_query, numbers[0]))
        boosts = array("f", [query[token] for token in impacts]).tolist()  # the float32 boosts Lucene uses
        matches = (TokenMatch(token, boost, impact / self.impact_scale)
                   for (token, impact), boost in zip(impacts.items(), boosts, strict=True))
        return Explanation(doc_id, by_contribution(matches), sparse_score, bm25, sparse_dropped + bm25_dropped)

    def _build_sparse(self, query: SparseVector) -> Any:
        with self._java_errors("building the sparse query"):
            return self._queries.sparse(query)

    def _build_bm25(self, text: str) -> tuple[Any, int]:
        """The BM25 query for ``text`` (within the query budget) and how many terms it dropped."""
        with self._java_errors("building the BM25 query"):
            return self._queries.bm25(text, self._reader)

    @staticmethod
    def _timed(fetch: Callable[[], list[tuple[str, float]]], divisor: float = 1.0,
               ) -> tuple[list[tuple[str, float]], float]:
        """``fetch()``'s pairs with scores divided by ``divisor``, and the milliseconds it took."""
        start = time.perf_counter()
        pairs = [(doc_id, score / divisor) for doc_id, score in fetch()]
        return pairs, (time.perf_counter() - start) * 1000.0

    def _run(self, searcher: Any, query: Any, k: int) -> list[tuple[str, float]]:
        """Search and return ``(doc_id, score)`` pairs, best first."""
        with self._java_errors("searching"):
            return self._hits.pairs(searcher.search(query, k), searcher)

    def _contains(self, doc_id: str) -> bool:
        """Whether a live document has ``doc_id`` (a refused ``addDocument`` leaves a deleted one)."""
        if self._reader is None:
            return False
        term = self._j.Term(ID_FIELD, doc_id)
        if self._reader.docFreq(term) == 0:
            return False
        if not self._reader.hasDeletions():
            return True
        return self._bm25_searcher.count(self._j.TermQuery(term)) > 0

    def _require_reader(self) -> None:
        if self._reader is None:
            if not self._exists():
                raise BackendError(f"no Lucene index at {self.path}")
            self._refresh()

    def _refresh(self) -> None:
        """Open the reader, or reopen it if the index changed since.

        Called on first use and after each of this backend's commits, not per search:
        documents another process commits become visible to a new backend object.
        """
        j = self._j
        with self._java_errors("opening the index reader"):
            if self._reader is None:
                if not self._exists():
                    return
                self._open_directory()
                self._reader = j.DirectoryReader.open(self._directory)
            else:
                newer = j.DirectoryReader.openIfChanged(self._reader)
                if newer is None:
                    return
                self._reader.close()
                self._reader = newer
            self._hits.clear()
            self._impact_searcher, self._bm25_searcher = open_searchers(j, self._reader, self._bm25_similarity)

    def _open_directory(self) -> None:
        if self._directory is None:
            self._directory = self._j.FSDirectory.open(self._j.File(str(self.path.resolve())).toPath())

    def _exists(self) -> bool:
        if self._reader is not None or self._writer is not None:
            return True
        if not self.path.is_dir():
            return False
        return any(p.name.startswith("segments_") for p in self.path.iterdir())

    # ---- errors ---------------------------------------------------------------------

    @contextlib.contextmanager
    def _java_errors(self, action: str) -> Iterator[None]:
        """Turn a Java exception into a one-line ``BackendError`` naming the index."""
        try:
            yield
        except self._j.JavaException as exc:
            raise BackendError(f"Lucene index {self.path}: {action} failed: {one_line(exc)}") from exc
