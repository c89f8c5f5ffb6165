"""sparsedoc: inference-free learned sparse retrieval on OpenSearch and Lucene.

The library lives in three packages, ordered by what may import what:
``sparsedoc.encoder`` (models, no other sparsedoc import) -> ``sparsedoc.plugin`` (engines)
-> ``sparsedoc.ingest`` (corpora and batched indexing); ``sparsedoc.cli`` wires them together.
"""

__version__ = "0.1.0"
