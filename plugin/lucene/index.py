"""The on-disk layout of the embedded Lucene index, and the writer that fills it.

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

The index folder also holds ``sparsedoc-lucene.json``, recording the impact scale.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sparsedoc.encoder.errors import BackendError, ConfigError
from sparsedoc.encoder.sparse_vector import SparseVector

from ..base import EncodedDocument
from .jvm import java_class
from .quantization import quantize_vector

__all__ = ["ID_FIELD", "TEXT_FIELD", "VECTOR_FIELD", "DocumentWriter", "LuceneClasses", "impact_string", "one_line",
           "read_scale", "write_scale"]

ID_FIELD = "id"
TEXT_FIELD = "contents"
VECTOR_FIELD = "vector"

_TOKEN_SEP = "\u001e"
_FREQ_SEP = "\u001f"
_SETTINGS_FILE = "sparsedoc-lucene.json"
_FORMAT_VERSION = 1
_FIELD_SIGNATURE = "(Ljava/lang/String;Ljava/lang/CharSequence;Lorg/apache/lucene/index/IndexableFieldType;)V"


def check_settings(*, k1: float, b: float, impact_scale: float | None, ram_buffer_mb: float) -> None:
    """Refuse out-of-range index settings with a ``ConfigError`` naming the setting."""
    if not (math.isfinite(k1) and k1 >= 0):
        raise ConfigError(f"k1 must be a finite number >= 0, got {k1!r}")
    if not (0.0 <= b <= 1.0):
        raise ConfigError(f"b must be in [0, 1], got {b!r}")
    if impact_scale is not None and not (math.isfinite(impact_scale) and impact_scale > 0):
        raise ConfigError(f"impact_scale must be a positive finite number, got {impact_scale!r}")
    if not ram_buffer_mb > 0:
        raise ConfigError(f"ram_buffer_mb must be > 0, got {ram_buffer_mb!r}")


class LuceneClasses:
    """The Java classes the backend uses, loaded once after the JVM starts."""

    _instance: LuceneClasses | None = None

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
        # the impact searcher's own proxy class: hybrid search calls it on a worker thread while
        # the BM25 searcher (the class above) runs in the caller (see ``java_class``)
        self.ImpactSearcher = j("org.apache.lucene.search.IndexSearcher", public_only=True)
        self.TermQuery = j("org.apache.lucene.search.TermQuery")
        self.MultiTerms = j("org.apache.lucene.index.MultiTerms")
        self.BytesRef = j("org.apache.lucene.util.BytesRef")
        self.QueryRescorer = j("org.apache.lucene.search.QueryRescorer")
        self.BooleanQueryBuilder = j("org.apache.lucene.search.BooleanQuery$Builder")
        self.SHOULD = j("org.apache.lucene.search.BooleanClause$Occur").SHOULD
        self.BM25Similarity = j("org.apache.lucene.search.similarities.BM25Similarity")
        self.ImpactSimilarity = j("io.anserini.search.similarity.ImpactSimilarity")
        self.CustomAnalyzer = j("org.apache.lucene.analysis.custom.CustomAnalyzer")
        self.PerFieldAnalyzerWrapper = j("org.apache.lucene.analysis.miscellaneous.PerFieldAnalyzerWrapper")
        self.DefaultEnglishAnalyzer = j("io.anserini.analysis.DefaultEnglishAnalyzer")
        self.AnalyzerUtils = j("io.anserini.analysis.AnalyzerUtils")
        self.BagOfWordsQueryGenerator = j("io.anserini.search.query.BagOfWordsQueryGenerator")
        self.ScoredDocs = j("io.anserini.search.ScoredDocs")
        self.JavaException = _java_exception_type()
        self.weights_reader, self.json_writer = _jackson(self.HashMap, j("java.lang.String"), self.Float)

    @classmethod
    def get(cls) -> LuceneClasses:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance


def _jackson(hash_map: Any, string: Any, float_class: Any) -> tuple[Any, Any]:
    """Jackson's JSON reader of ``Map<String, Float>`` and its ``ObjectMapper`` (the writer).

    A query's weights cross into Java as one JSON string in one call, instead of two calls
    per token (``HashMap.put`` and a boxed ``Float``): about 0.04 ms less per query. A
    search's ``TopDocs`` crosses back the same way (``writeValueAsString``), each ``ScoreDoc``
    written as an array ``[doc, score, shardIndex]``: reading ``TopDocs.scoreDocs`` through
    pyjnius wraps every hit in a proxy object, 0.36 ms at 100 hits against about 0.05 ms for
    the string and ``json.loads`` (arrays parse twice as fast as objects).
    The classes are declared with explicit signatures because pyjnius cannot choose
    between Jackson's overloads (``readerFor(Class)`` / ``readerFor(JavaType)``).
    """
    from jnius import JavaClass, JavaMethod, MetaJavaClass

    class ObjectMapper(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = "com/fasterxml/jackson/databind/ObjectMapper"
        __javaconstructor__ = [("()V", False)]
        getTypeFactory = JavaMethod("()Lcom/fasterxml/jackson/databind/type/TypeFactory;")
        readerFor = JavaMethod(
            "(Lcom/fasterxml/jackson/databind/JavaType;)Lcom/fasterxml/jackson/databind/ObjectReader;")
        writeValueAsString = JavaMethod("(Ljava/lang/Object;)Ljava/lang/String;")
        configOverride = JavaMethod("(Ljava/lang/Class;)Lcom/fasterxml/jackson/databind/cfg/MutableConfigOverride;")
        configure = JavaMethod(
            "(Lcom/fasterxml/jackson/databind/MapperFeature;Z)Lcom/fasterxml/jackson/databind/ObjectMapper;")

    class ObjectReader(JavaClass, metaclass=MetaJavaClass):  # noqa: F841 - registers readValue(String) for readerFor
        __javaclass__ = "com/fasterxml/jackson/databind/ObjectReader"
        readValue = JavaMethod("(Ljava/lang/String;)Ljava/lang/Object;")

    class MutableConfigOverride(JavaClass, metaclass=MetaJavaClass):  # noqa: F841 - registers setFormat
        __javaclass__ = "com/fasterxml/jackson/databind/cfg/MutableConfigOverride"
        setFormat = JavaMethod("(Lcom/fasterxml/jackson/annotation/JsonFormat$Value;)"
                               "Lcom/fasterxml/jackson/databind/cfg/MutableConfigOverride;")

    mapper = ObjectMapper()
    mapper.configure(java_class("com.fasterxml.jackson.databind.MapperFeature").SORT_PROPERTIES_ALPHABETICALLY, True)
    array_shape = java_class("com.fasterxml.jackson.annotation.JsonFormat$Value").forShape(
        java_class("com.fasterxml.jackson.annotation.JsonFormat$Shape").ARRAY)
    mapper.configOverride(java_class("java.lang.Class").forName("org.apache.lucene.search.ScoreDoc")).setFormat(
        array_shape)
    return mapper.readerFor(mapper.getTypeFactory().constructMapType(hash_map, string, float_class)), mapper


def _java_exception_type() -> type[BaseException]:
    from jnius import JavaException

    return JavaException


def one_line(exc: BaseException) -> str:
    """A Java exception as one line: ``ClassName: message``."""
    name = getattr(exc, "classname", None) or type(exc).__name__
    message = getattr(exc, "innermessage", None) or str(exc)
    return f"{name}: {' '.join(str(message).split())}"



def impact_string(vector: SparseVector, scale: float) -> str:
    """The vector field's value: ``token<US>impact<RS>...`` with impacts at ``scale``.

    Raises:
        ValueError: a token is empty or contains U+001E/U+001F, or a weight is out of range.
    """
    impacts = quantize_vector(vector.to_dict(), scale)
    text = _TOKEN_SEP.join(f"{token}{_FREQ_SEP}{impact}" for token, impact in impacts.items())
    n = len(impacts)
    if "" in impacts or text.count(_FREQ_SEP) != n or text.count(_TOKEN_SEP) != max(n - 1, 0):
        bad = next(t for t in impacts if not t or _TOKEN_SEP in t or _FREQ_SEP in t)
        raise ValueError(f"token {bad!r} is empty or contains U+001E/U+001F")
    return text


def read_scale(folder: Path) -> float | None:
    """The impact scale recorded in an index folder, or ``None`` if there is none."""
    settings = folder / _SETTINGS_FILE
    if not settings.is_file():
        return None
    try:
        return float(json.loads(settings.read_text())["impact_scale"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BackendError(f"unreadable settings file {settings}: {exc}") from exc


def write_scale(folder: Path, scale: float) -> None:
    """Record ``scale`` in the index folder."""
    settings = {"format_version": _FORMAT_VERSION, "impact_scale": scale}
    (folder / _SETTINGS_FILE).write_text(json.dumps(settings, indent=2) + "\n")


_BUILD_FILE = "sparsedoc-build.json"


def read_build_record(folder: Path) -> dict[str, object]:
    """How the index in ``folder`` was built (``{}`` when nothing was recorded)."""
    record = folder / _BUILD_FILE
    if not record.is_file():
        return {}
    try:
        return dict(json.loads(record.read_text()))
    except (OSError, ValueError, TypeError) as exc:
        raise BackendError(f"unreadable build record {record}: {exc}") from exc


def write_build_record(folder: Path, record: Mapping[str, object]) -> None:
    """Record how the index in ``folder`` was built (next to its impact-scale settings)."""
    partial = folder / (_BUILD_FILE + ".partial")
    partial.write_text(json.dumps(dict(record), indent=2, sort_keys=True) + "\n")
    partial.replace(folder / _BUILD_FILE)


class DocumentWriter:
    """A Lucene ``IndexWriter`` over ``directory`` that adds ``EncodedDocument``s in the layout above.

    The three fields of one reusable Lucene ``Document`` get new values per document
    (Lucene's recommended way to cut per-document allocations; here it also halves the
    number of calls from Python into Java).
    """

    def __init__(self, classes: LuceneClasses, directory: Any, text_analyzer: Any, similarity: Any, *,
                 scale: float, ram_buffer_mb: float, label: str) -> None:
        j = self._j = classes
        self.scale, self.label = scale, label
        config = j.IndexWriterConfig(self._analyzer(text_analyzer))
        config.setOpenMode(j.OpenMode.CREATE_OR_APPEND)
        config.setSimilarity(similarity)
        config.setRAMBufferSizeMB(ram_buffer_mb)
        self.writer = j.IndexWriter(directory, config)
        vector_type = j.FieldType()
        vector_type.setIndexOptions(j.IndexOptions.DOCS_AND_FREQS)
        vector_type.setTokenized(True)
        vector_type.setOmitNorms(True)
        vector_type.setStored(False)
        vector_type.freeze()
        self._fields = (
            j.StringField(ID_FIELD, "", j.Store.YES),
            j.TextField(TEXT_FIELD, "", j.Store.NO),
            j.Field(VECTOR_FIELD, "", vector_type, signature=_FIELD_SIGNATURE),
        )
        self._document = j.Document()
        for field in self._fields:
            self._document.add(field)

    def add(self, document: EncodedDocument) -> str | None:
        """Add one document; return why Lucene refused it, or ``None``.

        Raises:
            BackendError: the writer itself failed (it is closed; nothing since the last commit is kept).
        """
        try:
            impacts = impact_string(document.vector, self.scale)
        except ValueError as exc:
            return str(exc)
        id_field, text_field, vector_field = self._fields
        id_field.setStringValue(document.doc_id)
        text_field.setStringValue(document.text or "")
        vector_field.setStringValue(impacts)
        try:
            self.writer.addDocument(self._document)
        except self._j.JavaException as exc:
            if not self.writer.isOpen():
                raise BackendError(f"Lucene writer for {self.label} failed: {one_line(exc)}") from exc
            return one_line(exc)
        return None

    def _analyzer(self, text_analyzer: Any) -> Any:
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
        return j.PerFieldAnalyzerWrapper(text_analyzer, per_field)
