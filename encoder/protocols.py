"""The encoder interfaces: a second runtime (e.g. onnxruntime) implements the same ones."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from .sparse_vector import SparseVector


@runtime_checkable
class DocumentEncoder(Protocol):
    """Turns document texts into sparse vectors offline (the model side).

    ``truncated_documents`` counts the documents so far that were longer than the
    model's window and were cut to ``max_length`` tokens; ``windowed_documents`` those
    encoded as several overlapping windows instead (``long_documents="windows"``).
    """

    max_length: int
    truncated_documents: int
    windowed_documents: int

    def encode_document(self, texts: Sequence[str]) -> list[SparseVector]:
        """Encode a batch of documents, one vector per text, in input order."""
        ...


@runtime_checkable
class QueryEncoder(Protocol):
    """Turns query texts into sparse vectors (inference-free: no model)."""

    def encode_query(self, texts: Sequence[str]) -> list[SparseVector]:
        """Encode a batch of queries, one vector per text, in input order."""
        ...
