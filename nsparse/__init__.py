"""nsparse: inference-free learned sparse retrieval on OpenSearch and Lucene.

The library lives in three packages, ordered by what may import what:
``nsparse.encoder`` (models, no other nsparse import) -> ``nsparse.plugin`` (engines)
-> ``nsparse.ingest`` (corpora and batched indexing); ``nsparse.cli`` wires them together.
"""

__version__ = "0.1.0"
