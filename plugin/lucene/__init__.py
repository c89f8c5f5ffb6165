"""Embedded Lucene through pyjnius.

The backend (writing in ``backend``, searching in ``reading``), index writing, query building, reordering,
SEISMIC, impact quantisation and the JVM.
"""
