"""Document-id reordering of a one-segment Lucene index by recursive graph bisection (BP).

BP (Dhulipala et al., KDD 2016) renumbers documents so that documents sharing terms get
close ids: posting lists compress better and, what matters here, the top scores cluster
in fewer 128-document blocks, so block-max skipping (MaxScore over per-block maximum
impacts) skips more. Mackenzie et al. report large speed-ups of dynamic pruning on
reordered learned sparse indexes. Lucene's ``BPIndexReorderer`` (module ``lucene-misc``,
on the classpath when the JVM starts with ``JvmSettings(reordering=True)``) computes the order from the chosen
fields' postings; the segment is then rewritten in that order with
``IndexWriter.addIndexes`` over the sorted view, in one commit.

Reordering changes no score: rankings are identical, only the Lucene doc numbers differ
(the ``Backend`` contract orders ties by ``doc_id``, never by doc number).
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from typing import Any

from sparsedoc.encoder.errors import BackendError, ConfigError

from .jvm import LUCENE_MISC, java_class

__all__ = ["Reordering", "reorder_segment"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reordering:
    """Settings of BP reordering (``BPIndexReorderer``'s names).

    Args:
        fields: the fields whose postings define document similarity.
        min_doc_freq: terms in fewer documents are ignored (Lucene's default is 4096).
        max_iters: swap iterations per bisection level (Lucene's default 20).
    """

    fields: tuple[str, ...] = ("vector",)
    min_doc_freq: int = 32
    max_iters: int = 20

    def __post_init__(self) -> None:
        if not self.fields:
            raise ConfigError("reordering needs at least one field")
        if self.min_doc_freq < 1 or self.max_iters < 1:
            raise ConfigError(f"reordering min_doc_freq and max_iters must be >= 1, got {self.min_doc_freq}, "
                              f"{self.max_iters}")


def _reorderer(settings: Reordering) -> Any:
    try:
        reorderer = java_class("org.apache.lucene.misc.index.BPIndexReorderer")()
    except Exception as exc:  # pyjnius raises a plain JavaException when the class is missing
        raise BackendError(
            f"index reordering needs {LUCENE_MISC.filename} on the JVM's classpath: start the JVM with "
            f"JvmSettings(reordering=True), online the first time (it is fetched from Maven Central): {exc}") from exc
    lucene = str(java_class("org.apache.lucene.util.Version").LATEST.toString())
    if lucene != LUCENE_MISC.version:
        raise BackendError(f"Lucene {lucene} is running but {LUCENE_MISC.filename} is for {LUCENE_MISC.version}")
    fields = java_class("java.util.HashSet")()
    for field in settings.fields:
        fields.add(field)
    reorderer.setFields(fields)
    reorderer.setMinDocFreq(settings.min_doc_freq)
    reorderer.setMaxIters(settings.max_iters)
    return reorderer


@functools.cache
def _codec_reader_adder() -> Any:
    """A proxy of ``IndexWriter`` with only ``addIndexes(CodecReader...)``.

    pyjnius resolves ``addIndexes(reader)`` to the ``Directory...`` overload and fails. The
    proxy is registered under other class parameters than ``autoclass``'s, so the full
    ``IndexWriter`` proxy stays as it is.
    """
    from jnius import JavaClass, JavaMethod, MetaJavaClass

    return MetaJavaClass.__new__(MetaJavaClass, "CodecReaderAdder", (JavaClass,), {
        "__javaclass__": "org/apache/lucene/index/IndexWriter",
        "addIndexes": JavaMethod("([Lorg/apache/lucene/index/CodecReader;)J", varargs=True),
    }, classparams=(False, False))


def reorder_segment(writer: Any, directory: Any, settings: Reordering) -> float:
    """Rewrite the one segment of ``writer``'s index in BP order and commit; return the seconds taken.

    Args:
        writer: an open ``IndexWriter`` whose index is one segment without deletions
            (after ``forceMerge(1)``).
        directory: the index's ``Directory`` (BP's temporary files go there and are removed).
        settings: what to reorder by.

    Raises:
        BackendError: ``lucene-misc`` is unavailable, or the index is not one segment.
        ConfigError: a field in ``settings.fields`` is not in the index.
    """
    from jnius import cast

    start = time.perf_counter()
    reorderer = _reorderer(settings)
    reader = java_class("org.apache.lucene.index.DirectoryReader").open(writer)
    try:
        leaves = reader.leaves()
        if leaves.size() == 0:  # an empty index
            return time.perf_counter() - start
        if leaves.size() != 1:
            raise BackendError(f"reordering needs a one-segment index, this one has {leaves.size()}")
        leaf = cast("org.apache.lucene.index.CodecReader", leaves.get(0).reader())
        documents = leaf.numDocs()
        missing = [f for f in settings.fields if leaf.getFieldInfos().fieldInfo(f) is None]
        if missing and documents > 0:
            raise ConfigError(f"cannot reorder by {missing}: no such field in the index")
        if documents < 2:
            return time.perf_counter() - start
        ordered = reorderer.reorder(leaf, directory)
        writer.deleteAll()
        cast(_codec_reader_adder(), writer).addIndexes(ordered)
        writer.commit()
    finally:
        reader.close()
    seconds = time.perf_counter() - start
    logger.info("reordered %d documents by %s in %.1f s", documents, ",".join(settings.fields), seconds)
    return seconds
