"""Models: the document encoder, the IDF query encoder, IDF tables and sparse vectors.

Imports no other sparsedoc package. Heavy modules (torch, transformers) load only when the
submodule that needs them is imported.
"""
