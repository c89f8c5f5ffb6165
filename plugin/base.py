"""The ``Backend`` protocol every search engine implements, and the values it exchanges."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol, runtime_checkable

from sparsedoc.encoder.errors import IndexFailure
from sparsedoc.encoder.sparse_vector import SparseVector


@dataclass(frozen=True)
class Hit:
    """One ranked search result."""

    doc_id: str
    score: float
    rank: int


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
    again); ``failures`` lists the documents the engine refused, with reasons.
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

    Implementations take all settings in their constructor and support ``with``.
    Sparse search scores are the dot product of the query vector and the stored
    document vector (up to the engine's documented weight precision); BM25 search
    scores the same documents' text.
    """

    def create_index(self, *, overwrite: bool = False) -> None:
        """Create the index; with ``overwrite`` an existing one is dropped first."""
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

    def search_sparse(self, query: SparseVector, k: int = 10) -> list[Hit]:
        """Rank documents by dot product with ``query``; at most ``k`` hits."""
        ...

    def search_bm25(self, text: str, k: int = 10) -> list[Hit]:
        """Rank documents by BM25 over their text; at most ``k`` hits."""
        ...

    def batch_search_sparse(self, queries: Mapping[str, SparseVector], k: int = 10) -> dict[str, list[Hit]]:
        """Run ``search_sparse`` for each ``query_id -> vector``."""
        ...

    def batch_search_bm25(self, queries: Mapping[str, str], k: int = 10) -> dict[str, list[Hit]]:
        """Run ``search_bm25`` for each ``query_id -> text``."""
        ...

    def delete_index(self) -> None:
        """Delete the index and its data."""
        ...

    def close(self) -> None:
        """Release connections, readers and writers."""
        ...

    def __enter__(self) -> Backend: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


class BackendBase:
    """Shared behaviour for backends: batch search by looping, and context management."""

    def search_sparse(self, query: SparseVector, k: int = 10) -> list[Hit]:
        raise NotImplementedError

    def search_bm25(self, text: str, k: int = 10) -> list[Hit]:
        raise NotImplementedError

    def close(self) -> None:
        """Release resources (nothing by default)."""

    def batch_search_sparse(self, queries: Mapping[str, SparseVector], k: int = 10) -> dict[str, list[Hit]]:
        """Run ``search_sparse`` for each ``query_id -> vector``."""
        return {query_id: self.search_sparse(vector, k) for query_id, vector in queries.items()}

    def batch_search_bm25(self, queries: Mapping[str, str], k: int = 10) -> dict[str, list[Hit]]:
        """Run ``search_bm25`` for each ``query_id -> text``."""
        return {query_id: self.search_bm25(text, k) for query_id, text in queries.items()}

    def __enter__(self) -> BackendBase:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def ranked_hits(scored: Iterable[tuple[str, float]], k: int) -> list[Hit]:
    """Turn ``(doc_id, score)`` pairs into the top-``k`` hits, ties broken by doc id."""
    ordered = sorted(scored, key=lambda pair: (-pair[1], pair[0]))[:k]
    return [Hit(doc_id, score, rank) for rank, (doc_id, score) in enumerate(ordered, start=1)]
