"""A native OpenSearch node or cluster for tests and benchmarks.

Release install, security, process helpers, DJL natives.
"""
