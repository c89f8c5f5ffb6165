"""Embedded Lucene through pyjnius.

The backend, index writing, search, reordering, SEISMIC, impact quantisation and the JVM.
"""
