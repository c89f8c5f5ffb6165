"""The embedded Lucene backend: sparse impact search, BM25 and hybrid in one on-disk index, no server.

The index layout (fields, how a vector becomes impacts) and its writer are in
``sparsedoc.plugin.lucene.index``; this module opens, fills and searches it.
Query building and reading hits back from Java are in ``sparsedoc.plugin.lucene.search``.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from sparsedoc.encoder.errors import BackendError, ConfigError, IndexFailure
from sparsedoc.encoder.sparse_vector import SparseVector

from ..approximate import Seismic, TwoPhase, split_query
from ..base import (
    BackendBase,
    EncodedDocument,
    Hit,
    IndexReport,
    SearchResult,
    check_k,
    first_occurrences,
    top_k,
)
from ..explanation import Explanation, TokenMatch, by_contribution
from ..fusion import Fusion, fuse
from ..query_budget import budget_vector
from .index import (
    ID_FIELD,
    TEXT_FIELD,
    VECTOR_FIELD,
    DocumentWriter,
    LuceneClasses,
    check_settings,
    one_line,
    read_build_record,
    read_scale,
    write_build_record,
    write_scale,
)
from .jvm import JvmSettings, start_jvm
from .quantization import DEFAULT_IMPACT_SCALE
from .reorder import Reordering, reorder_segment
from .search import HitReader, QueryBuilder, impacts_of, open_searchers, score_tree, two_phase_search
from .seismic import SeismicSidecar

__all__ = ["ID_FIELD", "TEXT_FIELD", "VECTOR_FIELD", "LuceneBackend"]

logger = logging.getLogger(__name__)


class LuceneBackend(BackendBase):
    """An embedded Lucene index of documents' text (BM25) and sparse vectors (impacts).

    Constructing one starts the JVM (see ``sparsedoc.plugin.lucene.jvm``) but opens no files;
    the index is created by ``create_index`` or by the first ``index`` call, and read
    lazily by searches. One writer per index directory at a time (Lucene's write lock).

    Args:
        path: the index folder.
        impact_scale: integer steps per unit of document weight (see
            ``sparsedoc.plugin.lucene.quantization``). ``None`` uses the scale recorded in an
            existing index, else ``DEFAULT_IMPACT_SCALE``.
        k1: BM25 term-frequency saturation (Anserini's default 0.9).
        b: BM25 length normalisation (Anserini's default 0.4).
        ram_buffer_mb: the writer's RAM buffer before it flushes a segment.
        approximate: approximate sparse search (``sparsedoc.plugin.approximate``):
            ``TwoPhase`` runs on the Lucene index as it is; ``Seismic`` keeps a SEISMIC
            index of the vectors in the same folder (documents must be indexed by a
            backend with this setting; pip extra ``seismic``). ``None``: exact search.
        jvm: how to start the JVM if it is not running yet (``JvmSettings()``: Java 21+
            looked up, pyserini's Anserini jar, no ``lucene-misc``); reordering in
            ``force_merge`` needs ``JvmSettings(reordering=True)``.

    Raises:
        ConfigError: a setting is out of range, or ``impact_scale`` differs from the
            scale an existing index was built with.
        BackendError: the JVM could not start (no Java 21+ or no Anserini jar).
        MissingExtraError: ``approximate`` is ``Seismic`` and ``pyseismic-lsr`` is missing (an ImportError).

    Example:
        >>> with LuceneBackend(Path("idx")) as backend:  # doctest: +SKIP
        ...     backend.index([EncodedDocument("d1", "wings lift", SparseVector({"wing": 1.2}))])
        ...     backend.search_sparse(SparseVector({"wing": 2.0})).hits
        (Hit(doc_id='d1', score=2.4, rank=1),)
    """

    def __init__(
        self,
        path: Path | str,
        *,
        impact_scale: float | None = None,
        k1: float = 0.9,
        b: float = 0.4,
        ram_buffer_mb: float = 256.0,
        approximate: TwoPhase | Seismic | None = None,
        jvm: JvmSettings | None = None,
    ) -> None:
        check_settings(k1=k1, b=b, impact_scale=impact_scale, ram_buffer_mb=ram_buffer_mb)
        self.path = Path(path)
        self.k1 = float(k1)
        self.b = float(b)
        self.ram_buffer_mb = float(ram_buffer_mb)
        stored = read_scale(self.path)
        if impact_scale is not None and stored is not None and stored != impact_scale:
            raise ConfigError(
                f"index {self.path} was built with impact_scale={stored}, not {impact_scale}; "
                "pass impact_scale=None to use the stored one"
            )
        self.impact_scale = float(impact_scale if impact_scale is not None else stored or DEFAULT_IMPACT_SCALE)
        if approximate is not None and not isinstance(approximate, (TwoPhase, Seismic)):
            raise ConfigError(f"approximate must be TwoPhase, Seismic or None, got {approximate!r}")
        self.approximate = approximate
        self._seismic = SeismicSidecar(self.path, approximate) if isinstance(approximate, Seismic) else None

        start_jvm(jvm)
        self._j = LuceneClasses.get()
        self._lock = threading.RLock()
        self._directory: Any = None
        self._writer: Any = None
        self._reader: Any = None
        self._impact_searcher: Any = None
        self._bm25_searcher: Any = None
        self._hits = HitReader(self._j)  # TopDocs -> (doc_id, score), ids cached for the current reader
        self._bm25_similarity = self._j.BM25Similarity(self.k1, self.b)
        self._queries = QueryBuilder(self._j)

    # ---- lifecycle ------------------------------------------------------------------

    def create_index(self, *, overwrite: bool = False) -> None:
        """Create an empty index at ``path``; keep an existing one unless ``overwrite``."""
        with self._lock:
            if overwrite:
                self.delete_index()
            elif self._exists():
                logger.info("Lucene index %s exists; keeping it", self.path)
                write_scale(self.path, self.impact_scale)
                return
            self._open_writer()
            with self._java_errors("creating the index"):
                self._writer.writer.commit()
            write_scale(self.path, self.impact_scale)

    def record_build(self, record: Mapping[str, object]) -> None:
        """Store how the index was built in its folder (``sparsedoc-build.json``)."""
        with self._lock:
            if not self._exists():
                raise BackendError(f"no Lucene index at {self.path} to record the build of; create it first")
            write_build_record(self.path, record)

    def build_record(self) -> dict[str, object]:
        """How the index was built (``{}`` if nothing was recorded or the index is missing)."""
        return read_build_record(self.path) if self.path.is_dir() else {}

    def delete_index(self) -> None:
        """Close everything and remove the index folder (no error if it is absent)."""
        with self._lock:
            self.close()
            if self.path.exists():
                shutil.rmtree(self.path)

    def close(self) -> None:
        """Commit and close the writer, and close the reader and directory (idempotent)."""
        with self._lock:
            writer, self._writer = self._writer, None
            if writer is not None:
                with self._java_errors("closing writer"):
                    writer.writer.close()
            for name in ("_reader", "_directory"):
                resource = getattr(self, name)
                setattr(self, name, None)
                if resource is not None:
                    with self._java_errors(f"closing {name.strip('_')}"):
                        resource.close()
            self._impact_searcher = self._bm25_searcher = None
            self._hits.clear()

    # ---- writing --------------------------------------------------------------------

    def index(self, documents: Iterable[EncodedDocument]) -> IndexReport:
        """Add ``documents`` under the ``Backend`` contract, then commit and refresh searches.

        Documents with empty text or empty vectors are indexed. A refused document (a
        token Lucene cannot store, a weight beyond the impact range) is left out and
        reported; Lucene marks its partial write deleted, so it never counts as present.

        Raises:
            BackendError: the writer failed as a whole (nothing after the last commit is kept).
        """
        with self._lock:
            if not self._exists():
                self.create_index()
            self._open_writer()
            self._refresh()
            report = IndexReport()
            written: list[EncodedDocument] = []
            for document in first_occurrences(documents, report.failures):
                if self._contains(document.doc_id):
                    report.skipped += 1
                    continue
                reason = self._writer.add(document)
                if reason is None:
                    report.indexed += 1
                    written.append(document)
                else:
                    report.failures.append(IndexFailure(document.doc_id, reason))
            with self._java_errors("committing"):
                self._writer.writer.commit()
            if self._seismic is not None:
                self._seismic.add(written)
            self._refresh()
        logger.info(
            "indexed %d, skipped %d, refused %d documents into %s",
            report.indexed, report.skipped, len(report.failures), self.path,
        )
        return report

    def force_merge(self, max_segments: int = 1, *, reorder: Reordering | None = None) -> float | None:
        """Merge the index into at most ``max_segments`` segments (once, after bulk indexing).

        Each segment costs every query its own term lookups and top-k pass; one segment
        made exact sparse search about twice as fast on 100k documents written in 11.

        Args:
            max_segments: the most segments left.
            reorder: also renumber the documents by BP graph bisection
                (``sparsedoc.plugin.lucene.reorder``; needs ``max_segments=1``). Scores
                and rankings are unchanged; block-max skipping skips more.

        Returns:
            The seconds reordering took, or ``None`` without ``reorder``.

        Raises:
            ConfigError: ``max_segments`` < 1, or ``reorder`` with ``max_segments`` > 1.
            BackendError: no index, Lucene failed, or ``lucene-misc`` is unavailable.
        """
        if max_segments < 1:
            raise ConfigError(f"max_segments must be >= 1, got {max_segments}")
        if reorder is not None and max_segments != 1:
            raise ConfigError(f"reordering rewrites one segment: max_segments must be 1, got {max_segments}")
        seconds = None
        with self._lock:
            self._require_reader()
            self._open_writer()
            with self._java_errors("merging segments"):
                self._writer.writer.forceMerge(max_segments)
                self._writer.writer.commit()
            if reorder is not None:
                with self._java_errors("reordering documents"):
                    seconds = reorder_segment(self._writer.writer, self._directory, reorder)
            self._refresh()
        return seconds

    def _open_writer(self) -> None:
        if self._writer is not None:
            return
        self.path.mkdir(parents=True, exist_ok=True)
        with self._java_errors("opening the index writer"):
            self._open_directory()
            self._writer = DocumentWriter(self._j, self._directory, self._queries.analyzer, self._bm25_similarity,
                                          scale=self.impact_scale, ram_buffer_mb=self.ram_buffer_mb,
                                          label=str(self.path))

    # ---- reading --------------------------------------------------------------------

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

        Each sub-query contributes its top ``fusion.window_for(k)`` hits, as in OpenSearch's
        ``hybrid`` query; ``took_ms`` covers both searches and the fusion. Both searches run
        under one lock acquisition on the same reader. Each keeps at most ``MAX_QUERY_TOKENS``
        terms (``sparsedoc.plugin.query_budget``); ``dropped_tokens`` counts both cuts.

        Raises:
            ConfigError: ``k`` is out of range.
            BackendError: no index at ``path``, or Lucene failed.
        """
        check_k(k)
        fusion = fusion or Fusion()
        window = fusion.window_for(k)
        query, sparse_dropped = budget_vector(query)
        with self._lock:
            self._require_reader()
            start = time.perf_counter()
            bm25_query, bm25_dropped = self._build_bm25(text)
            bm25 = self._run(self._bm25_searcher, bm25_query, window)
            sparse = self._run(self._impact_searcher, self._build_sparse(query), window) if query else []
            sparse = [(doc_id, score / self.impact_scale) for doc_id, score in sparse]
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
