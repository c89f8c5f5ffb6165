"""Search engines behind one ``Backend`` protocol: embedded Lucene and OpenSearch.

Concrete backends import their engine client (pyjnius, opensearch-py) only when constructed.
"""
