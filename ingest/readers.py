"""Readers for corpora, queries and qrels: the BEIR reader of ``sparsedoc.encoder.beir``.

It lives in ``encoder`` because training reads the same files with the same title + text
rule; ingest, evaluation and the CLI import it from here.
"""

from __future__ import annotations

from sparsedoc.encoder.beir import (
    BeirDataset,
    Document,
    Qrels,
    Query,
    document_content,
    read_documents,
    read_qrels,
    read_queries,
)

__all__ = ["BeirDataset", "Document", "Qrels", "Query", "document_content", "read_documents", "read_qrels",
           "read_queries"]
