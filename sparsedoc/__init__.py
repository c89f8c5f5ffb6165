"""sparsedoc: inference-free learned sparse retrieval on OpenSearch and Lucene.

The library lives in three packages, ordered by what may import what:
``sparsedoc.encoder`` (models, no other sparsedoc import) -> ``sparsedoc.plugin`` (engines)
-> ``sparsedoc.ingest`` (corpora and batched indexing); ``sparsedoc.cli`` wires them together.

The objects a program composes are importable from here (see the README's "Python API"):

- documents: ``TorchDocumentEncoder`` (pip extra ``torch``), ``OnnxDocumentEncoder`` (extra ``onnx``),
  ``load_document_encoder`` (either, by the folder's contents);
- queries: ``IdfQueryEncoder`` over ``compute_idf`` / ``save_idf`` / ``load_idf`` and ``load_tokenizer``;
- vectors and engines: ``SparseVector``, ``EncodedDocument``, ``LuceneBackend`` (extra ``lucene``),
  ``OpenSearchBackend`` (extra ``opensearch``), ``Fusion`` for hybrid search (``Fusion()`` without a sparse
  weight: the index's default, 0.5 if it was built with smoothing, else 0.4);
- evaluation and adaptation: ``BeirDataset``, ``Workspace``, ``evaluate_beir``, ``adapt`` (extra ``training``);
- dense-neighbour smoothing: ``Smoothing``, ``SmoothingPlan``, ``smoothed_vectors`` (extra ``smoothing``).

Each name is imported on first use: ``import sparsedoc`` loads no torch, JVM or engine client.

Example:
    >>> import sparsedoc
    >>> sparsedoc.SparseVector({"wing": 1.5}).dot(sparsedoc.SparseVector({"wing": 2.0}))
    3.0
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_SOURCES = {
    "TorchDocumentEncoder": "sparsedoc.encoder.torch_doc_encoder",
    "OnnxDocumentEncoder": "sparsedoc.encoder.onnx_doc_encoder",
    "load_document_encoder": "sparsedoc.encoder.onnx_doc_encoder",
    "IdfQueryEncoder": "sparsedoc.encoder.idf_query_encoder",
    "compute_idf": "sparsedoc.encoder.idf",
    "load_idf": "sparsedoc.encoder.idf",
    "save_idf": "sparsedoc.encoder.idf",
    "load_tokenizer": "sparsedoc.encoder.loading",
    "SparseVector": "sparsedoc.encoder.sparse_vector",
    "BeirDataset": "sparsedoc.encoder.beir",
    "EncodedDocument": "sparsedoc.plugin.base",
    "Fusion": "sparsedoc.plugin.fusion",
    "LuceneBackend": "sparsedoc.plugin.lucene.backend",
    "OpenSearchBackend": "sparsedoc.plugin.opensearch.backend",
    "Workspace": "sparsedoc.ingest.workspace",
    "evaluate_beir": "sparsedoc.ingest.evaluation",
    "adapt": "sparsedoc.ingest.adaptation",
    "Smoothing": "sparsedoc.ingest.smoothing",
    "SmoothingPlan": "sparsedoc.ingest.index_build",
    "smoothed_vectors": "sparsedoc.ingest.index_build",
}
"""Public name -> the module that defines it."""

__all__ = [
    "BeirDataset", "EncodedDocument", "Fusion", "IdfQueryEncoder", "LuceneBackend", "OnnxDocumentEncoder",
    "OpenSearchBackend", "Smoothing", "SmoothingPlan", "SparseVector", "TorchDocumentEncoder", "Workspace",
    "__version__", "adapt", "compute_idf", "evaluate_beir", "load_document_encoder", "load_idf", "load_tokenizer",
    "save_idf", "smoothed_vectors",
]

if TYPE_CHECKING:
    from sparsedoc.encoder.beir import BeirDataset
    from sparsedoc.encoder.idf import compute_idf, load_idf, save_idf
    from sparsedoc.encoder.idf_query_encoder import IdfQueryEncoder
    from sparsedoc.encoder.loading import load_tokenizer
    from sparsedoc.encoder.onnx_doc_encoder import OnnxDocumentEncoder, load_document_encoder
    from sparsedoc.encoder.sparse_vector import SparseVector
    from sparsedoc.encoder.torch_doc_encoder import TorchDocumentEncoder
    from sparsedoc.ingest.adaptation import adapt
    from sparsedoc.ingest.evaluation import evaluate_beir
    from sparsedoc.ingest.index_build import SmoothingPlan, smoothed_vectors
    from sparsedoc.ingest.smoothing import Smoothing
    from sparsedoc.ingest.workspace import Workspace
    from sparsedoc.plugin.base import EncodedDocument
    from sparsedoc.plugin.fusion import Fusion
    from sparsedoc.plugin.lucene.backend import LuceneBackend
    from sparsedoc.plugin.opensearch.backend import OpenSearchBackend


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use (PEP 562), then keep it here."""
    source = _SOURCES.get(name)
    if source is None:
        raise AttributeError(f"module 'sparsedoc' has no attribute {name!r}")
    value = getattr(importlib.import_module(source), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_SOURCES})
