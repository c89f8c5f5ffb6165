"""The embedded Lucene backend: sparse impact search and BM25 in one on-disk index, no server.

Each Lucene document has three fields:

* ``id``: the doc id, an untokenised stored string (ids stay ``str``);
* ``contents``: the text, analysed like Anserini's BM25 indexes (``DefaultEnglishAnalyzer``:
  Porter stemmer and English stopwords) and scored with ``BM25Similarity(k1, b)``;
* ``vector``: the sparse vector as impacts. Each token is one term whose term frequency
  is its quantised weight (``quantize_weight``); scored with Anserini's ``ImpactSimilarity``
  (``score = boost * freq``), a query of ``BoostQuery(TermQuery(token), query_weight)``
  clauses scores ``sum(query_weight * impact)``, which is divided by the scale on return.

The vector is handed to Lucene as one string ``token<US>impact<RS>token<US>impact...``
(US = U+001F, RS = U+001E), split by a ``simplePatternSplit`` tokenizer on RS and read
by a ``delimitedTermFrequency`` filter, so tokens are indexed verbatim (``"##ing"``,
``"."``, ``"a b"``, any Unicode) and each token is one term, not repeated. Tokens that
contain U+001E or U+001F, or are empty, are refused.

Sparse queries are a ``BooleanQuery`` of SHOULD ``BoostQuery(TermQuery(token), weight)``
clauses, built in one call by ``BagOfWordsQueryGenerator.buildQuery(field, Map<String, Float>)``
(three times faster than assembling the clauses through pyjnius). Unlike Anserini's
``SimpleImpactSearcher``, nothing rounds query weights to integers or drops a token for
a low IDF (a token present in every document still scores).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import shutil
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sparsedoc.encoder.errors import BackendError, ConfigError, IndexFailure
from sparsedoc.encoder.sparse_vector import SparseVector
from sparsedoc.plugin.base import (
    BackendBase,
    EncodedDocument,
    IndexReport,
    SearchResult,
    check_k,
    first_occurrences,
    ranked_hits,
    top_k,
)
from sparsedoc.plugin.fusion import Fusion, fuse
from sparsedoc.plugin.jvm import java_class, start_jvm
from sparsedoc.plugin.quantization import DEFAULT_IMPACT_SCALE, quantize_vector

__all__ = ["ID_FIELD", "TEXT_FIELD", "VECTOR_FIELD", "LuceneBackend"]

logger = logging.getLogger(__name__)

ID_FIELD = "id"
TEXT_FIELD = "contents"
VECTOR_FIELD = "vector"

_TOKEN_SEP = "\u001e"
_FREQ_SEP = "\u001f"
_SETTINGS_FILE = "sparsedoc-lucene.json"
_FORMAT_VERSION = 1
_SEARCHER_SIGNATURE = "(Lorg/apache/lucene/index/IndexReader;)V"
_FIELD_SIGNATURE = "(Ljava/lang/String;Ljava/lang/CharSequence;Lorg/apache/lucene/index/IndexableFieldType;)V"


class _Lucene:
    """The Java classes the backend uses, loaded once after the JVM starts."""

    _instance: _Lucene | None = None

    def __init__(self) -> None:
        j = java_class
        self.File = j("java.io.File")
        self.HashMap = j("java.util.HashMap")
        self.Float = j("java.lang.Float")
        self.FSDirectory = j("org.apache.lucene.store.FSDirectory")
        self.DirectoryReader = j("org.apache.lucene.index.DirectoryReader")
        self.IndexWriter = j("org.apache.lucene.index.IndexWriter")
        self.IndexWriterConfig = j("org.apache.lucene.index.IndexWriterConfig")
        self.OpenMode = j("org.apache.lucene.index.IndexWriterConfig$OpenMode")
        self.IndexOptions = j("org.apache.lucene.index.IndexOptions")
        self.Term = j("org.apache.lucene.index.Term")
        self.Document = j("org.apache.lucene.document.Document")
        self.Field = j("org.apache.lucene.document.Field")
        self.FieldType = j("org.apache.lucene.document.FieldType")
        self.Store = j("org.apache.lucene.document.Field$Store")
        self.StringField = j("org.apache.lucene.document.StringField")
        self.TextField = j("org.apache.lucene.document.TextField")
        self.IndexSearcher = j("org.apache.lucene.search.IndexSearcher")
        self.TermQuery = j("org.apache.lucene.search.TermQuery")
        self.BM25Similarity = j("org.apache.lucene.search.similarities.BM25Similarity")
        self.ImpactSimilarity = j("io.anserini.search.similarity.ImpactSimilarity")
        self.CustomAnalyzer = j("org.apache.lucene.analysis.custom.CustomAnalyzer")
        self.PerFieldAnalyzerWrapper = j("org.apache.lucene.analysis.miscellaneous.PerFieldAnalyzerWrapper")
        self.DefaultEnglishAnalyzer = j("io.anserini.analysis.DefaultEnglishAnalyzer")
        self.BagOfWordsQueryGenerator = j("io.anserini.search.query.BagOfWordsQueryGenerator")
        self.ScoredDocs = j("io.anserini.search.ScoredDocs")
        self.JavaException = _java_exception_type()

    @classmethod
    def get(cls) -> _Lucene:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance


def _java_exception_type() -> type[BaseException]:
    from jnius import JavaException

    return JavaException


def _one_line(exc: BaseException) -> str:
    name = getattr(exc, "classname", None) or type(exc).__name__
    message = getattr(exc, "innermessage", None) or str(exc)
    return f"{name}: {' '.join(str(message).split())}"


class LuceneBackend(BackendBase):
    """An embedded Lucene index of documents' text (BM25) and sparse vectors (impacts).

    Constructing one starts the JVM (see ``sparsedoc.plugin.jvm``) but opens no files;
    the index is created by ``create_index`` or by the first ``index`` call, and read
    lazily by searches. One writer per index directory at a time (Lucene's write lock).

    Args:
        path: the index folder.
        impact_scale: integer steps per unit of document weight (see
            ``sparsedoc.plugin.quantization``). ``None`` uses the scale recorded in an
            existing index, else ``DEFAULT_IMPACT_SCALE``.
        k1: BM25 term-frequency saturation (Anserini's default 0.9).
        b: BM25 length normalisation (Anserini's default 0.4).
        ram_buffer_mb: the writer's RAM buffer before it flushes a segment.

    Raises:
        ConfigError: a setting is out of range, or ``impact_scale`` differs from the
            scale an existing index was built with.
        BackendError: the JVM could not start (no Java 21+ or no Anserini jar).

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
    ) -> None:
        if not (math.isfinite(k1) and k1 >= 0):
            raise ConfigError(f"k1 must be a finite number >= 0, got {k1!r}")
        if not (0.0 <= b <= 1.0):
            raise ConfigError(f"b must be in [0, 1], got {b!r}")
        if impact_scale is not None and not (math.isfinite(impact_scale) and impact_scale > 0):
            raise ConfigError(f"impact_scale must be a positive finite number, got {impact_scale!r}")
        if not ram_buffer_mb > 0:
            raise ConfigError(f"ram_buffer_mb must be > 0, got {ram_buffer_mb!r}")
        self.path = Path(path)
        self.k1 = float(k1)
        self.b = float(b)
        self.ram_buffer_mb = float(ram_buffer_mb)
        stored = self._stored_scale()
        if impact_scale is not None and stored is not None and stored != impact_scale:
            raise ConfigError(
                f"index {self.path} was built with impact_scale={stored}, not {impact_scale}; "
                "pass impact_scale=None to use the stored one"
            )
        self.impact_scale = float(impact_scale if impact_scale is not None else stored or DEFAULT_IMPACT_SCALE)

        start_jvm()
        self._j = _Lucene.get()
        self._lock = threading.RLock()
        self._directory: Any = None
        self._writer: Any = None
        self._reader: Any = None
        self._impact_searcher: Any = None
        self._bm25_searcher: Any = None
        self._text_analyzer: Any = None
        self._doc_template: tuple[Any, ...] = ()
        self._bm25_similarity = self._j.BM25Similarity(self.k1, self.b)
        self._query_generator = self._j.BagOfWordsQueryGenerator()

    # ---- lifecycle ------------------------------------------------------------------

    def create_index(self, *, overwrite: bool = False) -> None:
        """Create an empty index at ``path``; keep an existing one unless ``overwrite``."""
        with self._lock:
            if overwrite:
                self.delete_index()
            elif self._exists():
                logger.info("Lucene index %s exists; keeping it", self.path)
                self._write_settings()
                return
            self._open_writer()
            with self._java_errors("creating the index"):
                self._writer.commit()
            self._write_settings()

    def delete_index(self) -> None:
        """Close everything and remove the index folder (no error if it is absent)."""
        with self._lock:
            self.close()
            if self.path.exists():
                shutil.rmtree(self.path)

    def close(self) -> None:
        """Commit and close the writer, and close the reader and directory (idempotent)."""
        with self._lock:
            for name in ("_writer", "_reader", "_directory"):
                resource = getattr(self, name)
                setattr(self, name, None)
                if resource is not None:
                    with self._java_errors(f"closing {name.strip('_')}"):
                        resource.close()
            self._impact_searcher = self._bm25_searcher = None

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
            for document in first_occurrences(documents, report.failures):
                if self._contains(document.doc_id):
                    report.skipped += 1
                    continue
                reason = self._add(document)
                if reason is None:
                    report.indexed += 1
                else:
                    report.failures.append(IndexFailure(document.doc_id, reason))
            with self._java_errors("committing"):
                self._writer.commit()
            self._refresh()
        logger.info(
            "indexed %d, skipped %d, refused %d documents into %s",
            report.indexed, report.skipped, len(report.failures), self.path,
        )
        return report

    def _add(self, document: EncodedDocument) -> str | None:
        """Add one document; return why it was refused, or ``None``.

        The three fields of one reusable Lucene ``Document`` get new values per call
        (Lucene's recommended way to cut per-document allocations; here it also halves
        the number of calls from Python into Java).
        """
        try:
            impacts = self._impact_string(document.vector)
        except ValueError as exc:
            return str(exc)
        id_field, text_field, vector_field, doc = self._doc_template
        id_field.setStringValue(document.doc_id)
        text_field.setStringValue(document.text or "")
        vector_field.setStringValue(impacts)
        try:
            self._writer.addDocument(doc)
        except self._j.JavaException as exc:
            if not self._writer.isOpen():
                raise BackendError(f"Lucene writer for {self.path} failed: {_one_line(exc)}") from exc
            return _one_line(exc)
        return None

    def _impact_string(self, vector: SparseVector) -> str:
        impacts = quantize_vector(vector.to_dict(), self.impact_scale)
        text = _TOKEN_SEP.join(f"{token}{_FREQ_SEP}{impact}" for token, impact in impacts.items())
        n = len(impacts)
        if "" in impacts or text.count(_FREQ_SEP) != n or text.count(_TOKEN_SEP) != max(n - 1, 0):
            bad = next(t for t in impacts if not t or _TOKEN_SEP in t or _FREQ_SEP in t)
            raise ValueError(f"token {bad!r} is empty or contains U+001E/U+001F")
        return text

    def _open_writer(self) -> None:
        if self._writer is not None:
            return
        j = self._j
        self.path.mkdir(parents=True, exist_ok=True)
        with self._java_errors("opening the index writer"):
            self._open_directory()
            config = j.IndexWriterConfig(self._index_analyzer())
            config.setOpenMode(j.OpenMode.CREATE_OR_APPEND)
            config.setSimilarity(self._bm25_similarity)
            config.setRAMBufferSizeMB(self.ram_buffer_mb)
            self._writer = j.IndexWriter(self._directory, config)
            vector_type = j.FieldType()
            vector_type.setIndexOptions(j.IndexOptions.DOCS_AND_FREQS)
            vector_type.setTokenized(True)
            vector_type.setOmitNorms(True)
            vector_type.setStored(False)
            vector_type.freeze()
            fields = (
                j.StringField(ID_FIELD, "", j.Store.YES),
                j.TextField(TEXT_FIELD, "", j.Store.NO),
                j.Field(VECTOR_FIELD, "", vector_type, signature=_FIELD_SIGNATURE),
            )
            doc = j.Document()
            for field in fields:
                doc.add(field)
            self._doc_template = (*fields, doc)

    def _index_analyzer(self) -> Any:
        j = self._j
        tokenizer_args = j.HashMap()
        tokenizer_args.put("pattern", _TOKEN_SEP)
        filter_args = j.HashMap()
        filter_args.put("delimiter", _FREQ_SEP)
        builder = j.CustomAnalyzer.builder()
        builder.withTokenizer("simplePatternSplit", tokenizer_args)
        builder.addTokenFilter("delimitedTermFrequency", filter_args)
        per_field = j.HashMap()
        per_field.put(VECTOR_FIELD, builder.build())
        return j.PerFieldAnalyzerWrapper(self._analyzer(), per_field)

    def _analyzer(self) -> Any:
        if self._text_analyzer is None:
            self._text_analyzer = self._j.DefaultEnglishAnalyzer.newDefaultInstance()
        return self._text_analyzer

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

        Query weights are used as float32 boosts (no quantisation, no IDF cut-off).

        Raises:
            ConfigError: ``k`` is out of range.
            BackendError: no index at ``path``, or Lucene failed.
        """
        check_k(k)
        with self._lock:
            self._require_reader()
            if not query:
                return SearchResult((), 0.0)
            lucene_query = self._sparse_query(query)
            return top_k(lambda n: self._timed(self._impact_searcher, lucene_query, n, self.impact_scale), k)

    def search_bm25(self, text: str, k: int = 10) -> SearchResult:
        """Rank documents by BM25(k1, b) over their text, the query analysed like the text.

        Raises:
            ConfigError: ``k`` is out of range.
            BackendError: no index at ``path``, or Lucene failed.
        """
        check_k(k)
        with self._lock:
            self._require_reader()
            query = self._bm25_query(text)
            return top_k(lambda n: self._timed(self._bm25_searcher, query, n), k)

    def search_hybrid(
        self, text: str, query: SparseVector, k: int = 10, fusion: Fusion | None = None
    ) -> SearchResult:
        """Fuse BM25 over ``text`` and sparse search for ``query`` (``sparsedoc.plugin.fusion``).

        Each sub-query contributes its top ``fusion.window_for(k)`` hits, as in OpenSearch's
        ``hybrid`` query; ``took_ms`` covers both searches and the fusion.

        Raises:
            ConfigError: ``k`` is out of range.
            BackendError: no index at ``path``, or Lucene failed.
        """
        check_k(k)
        fusion = fusion or Fusion()
        window = fusion.window_for(k)
        with self._lock:
            self._require_reader()
            start = time.perf_counter()
            bm25 = self._run(self._bm25_searcher, self._bm25_query(text), window)
            sparse = self._run(self._impact_searcher, self._sparse_query(query), window) if query else []
            sparse = [(doc_id, score / self.impact_scale) for doc_id, score in sparse]
            hits = ranked_hits(fuse([bm25, sparse], fusion), k)
            return SearchResult(hits, (time.perf_counter() - start) * 1000.0)

    def _sparse_query(self, query: SparseVector) -> Any:
        j = self._j
        with self._java_errors("building the sparse query"):
            weights = j.HashMap()
            for token, weight in query.items():
                weights.put(token, j.Float(float(weight)))
            if len(query) > j.IndexSearcher.getMaxClauseCount():
                j.IndexSearcher.setMaxClauseCount(len(query))
            return self._query_generator.buildQuery(VECTOR_FIELD, weights)

    def _bm25_query(self, text: str) -> Any:
        with self._java_errors("building the BM25 query"):
            return self._query_generator.buildQuery(TEXT_FIELD, self._analyzer(), text)

    def _timed(self, searcher: Any, query: Any, n: int, divisor: float = 1.0) -> tuple[list[tuple[str, float]], float]:
        start = time.perf_counter()
        pairs = self._run(searcher, query, n)
        took = (time.perf_counter() - start) * 1000.0
        return ([(doc_id, score / divisor) for doc_id, score in pairs] if divisor != 1.0 else pairs), took

    def _run(self, searcher: Any, query: Any, k: int) -> list[tuple[str, float]]:
        """Search and return ``(doc_id, score)`` pairs, best first.

        The hits' ids are read from stored fields inside Java by Anserini's
        ``ScoredDocs.fromTopDocs`` (it reads the field named ``id``, our ``ID_FIELD``) and
        cross into Python as two arrays: one JNI round trip per field instead of two per
        hit, which cost about 7 ms at ``k=100``.
        """
        with self._java_errors("searching"):
            top = searcher.search(query, k)
            if len(top.scoreDocs) == 0:
                return []
            scored = self._j.ScoredDocs.fromTopDocs(top, searcher)
            return [(str(doc_id), float(score)) for doc_id, score in zip(scored.docids, scored.scores)]

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
            self._impact_searcher = j.IndexSearcher(self._reader, signature=_SEARCHER_SIGNATURE)
            self._impact_searcher.setSimilarity(j.ImpactSimilarity())
            self._bm25_searcher = j.IndexSearcher(self._reader, signature=_SEARCHER_SIGNATURE)
            self._bm25_searcher.setSimilarity(self._bm25_similarity)

    def _open_directory(self) -> None:
        if self._directory is None:
            self._directory = self._j.FSDirectory.open(self._j.File(str(self.path.resolve())).toPath())

    def _exists(self) -> bool:
        if self._reader is not None or self._writer is not None:
            return True
        if not self.path.is_dir():
            return False
        return any(p.name.startswith("segments_") for p in self.path.iterdir())

    # ---- settings and errors --------------------------------------------------------

    def _stored_scale(self) -> float | None:
        settings = self.path / _SETTINGS_FILE
        if not settings.is_file():
            return None
        try:
            return float(json.loads(settings.read_text())["impact_scale"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BackendError(f"unreadable settings file {settings}: {exc}") from exc

    def _write_settings(self) -> None:
        settings = {"format_version": _FORMAT_VERSION, "impact_scale": self.impact_scale}
        (self.path / _SETTINGS_FILE).write_text(json.dumps(settings, indent=2) + "\n")

    @contextlib.contextmanager
    def _java_errors(self, action: str) -> Iterator[None]:
        """Turn a Java exception into a one-line ``BackendError`` naming the index."""
        try:
            yield
        except self._j.JavaException as exc:
            raise BackendError(f"Lucene index {self.path}: {action} failed: {_one_line(exc)}") from exc
