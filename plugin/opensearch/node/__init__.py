"""A native OpenSearch node or cluster for tests and benchmarks: release install, security, process helpers, DJL natives."""
