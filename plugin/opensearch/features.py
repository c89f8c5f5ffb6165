"""What each OpenSearch version can do: the query modes that need a feature are refused on older clusters.

The backend and the client check a cluster's reported version against this table; the
node installer (``sparsedoc.plugin.opensearch.node.release``) reports it for the releases it pins.

Example:
    >>> sorted(features_of("2.19.1"))
    ['hybrid_min_max', 'hybrid_rrf']
"""

from __future__ import annotations

__all__ = ["FEATURES_SINCE", "features_of"]

# See opensearch.md for where each version comes from.
FEATURES_SINCE: dict[str, tuple[int, int]] = {
    "hybrid_min_max": (2, 10),  # hybrid query and normalization-processor
    "hybrid_rrf": (2, 19),  # score-ranker-processor
    "analyzer_query": (3, 1),
    "sparse_vector": (3, 3),
}


def features_of(version: str) -> frozenset[str]:
    """The ``FEATURES_SINCE`` capabilities an OpenSearch ``version`` string (``3.6.0``, ``2.19.1-SNAPSHOT``) has."""
    major_minor = tuple(int(p) for p in version.split("-")[0].split(".")[:2])
    return frozenset(name for name, since in FEATURES_SINCE.items() if major_minor >= since)
