"""Embedded Lucene through pyjnius: the backend, index writing, search, reordering, SEISMIC, impact quantisation and the JVM."""
