"""Dense neighbours from an OpenSearch k-NN index, for smoothing corpora beyond one machine's memory.

``OpenSearchKnn`` keeps each document's dense embedding in a ``knn_vector`` field (HNSW graph,
Lucene engine, inner product on unit vectors = cosine) of its own index, and answers
``neighbours(ids, vectors, k)`` with one ``_msearch`` of k-NN queries per batch, each document's
own id left out. It has the ``sparsedoc.ingest.neighbours.NeighbourSearcher`` shape; embeddings
are written once (``add``) and later documents are smoothed against everything already stored.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from sparsedoc.encoder.errors import BackendError, ConfigError

from .client import open_client
from .errors import error_reason, translate_errors

EMBEDDING_FIELD = "embedding"


class OpenSearchKnn:
    """A k-NN index of dense document embeddings (``dimension`` floats per document)."""

    def __init__(self, url: str, index: str, dimension: int, *, http_auth: tuple[str, str] | None = None,
                 ca_certs: str | None = None, timeout: float = 60.0, batch_size: int = 200,
                 ef_search: int = 100) -> None:
        if dimension < 1 or batch_size < 1:
            raise ConfigError(f"dimension and batch_size must be >= 1, got {dimension}, {batch_size}")
        self.url = url
        self.index_name = index
        self.dimension = dimension
        self.batch_size = batch_size
        self.ef_search = ef_search
        self.client = open_client(url, http_auth=http_auth, ca_certs=ca_certs, timeout=timeout)

    def create(self, *, overwrite: bool = False) -> None:
        """Create the k-NN index (keep an existing one unless ``overwrite``)."""
        with translate_errors(f"create k-NN index {self.index_name}", self.url):
            exists = self.client.indices.exists(index=self.index_name)
            if exists and not overwrite:
                return
            if exists:
                self.client.indices.delete(index=self.index_name)
            body = {
                "settings": {"index": {"knn": True, "knn.algo_param.ef_search": self.ef_search,
                                       "number_of_shards": 1, "number_of_replicas": 0}},
                "mappings": {"properties": {EMBEDDING_FIELD: {
                    "type": "knn_vector", "dimension": self.dimension,
                    "method": {"name": "hnsw", "engine": "lucene", "space_type": "innerproduct",
                               "parameters": {"m": 16, "ef_construction": 128}}}}},
            }
            self.client.indices.create(index=self.index_name, body=body)

    def add(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        """Store the embeddings of ``ids`` (an id already there is replaced), then refresh."""
        self._check(ids, vectors)
        with translate_errors(f"write embeddings into {self.index_name}", self.url):
            for start in range(0, len(ids), self.batch_size):
                lines = []
                stop = start + self.batch_size
                for doc_id, row in zip(ids[start:stop], vectors[start:stop], strict=True):
                    lines.append(json.dumps({"index": {"_index": self.index_name, "_id": doc_id}}))
                    lines.append(json.dumps({EMBEDDING_FIELD: [float(x) for x in row]}))
                answer = self.client.bulk(body="\n".join(lines) + "\n")
                if answer.get("errors"):
                    failed = next(i for i in answer["items"] if "error" in i["index"])["index"]
                    raise BackendError(f"k-NN index {self.index_name} refused embedding {failed['_id']!r}: "
                                       f"{error_reason(failed['error'])}")
            self.client.indices.refresh(index=self.index_name)

    def neighbours(self, ids: Sequence[str], vectors: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """The ``k`` nearest stored documents of each embedding (its own id left out), best first."""
        self._check(ids, vectors)
        if k < 1:
            raise ConfigError(f"the number of neighbours must be >= 1, got {k}")
        found: list[list[tuple[str, float]]] = []
        with translate_errors(f"k-NN search in {self.index_name}", self.url):
            for start in range(0, len(ids), self.batch_size):
                lines = []
                for row in vectors[start:start + self.batch_size]:
                    lines.append(json.dumps({"index": self.index_name}))
                    lines.append(json.dumps({"size": k + 1, "_source": False, "query": {"knn": {
                        EMBEDDING_FIELD: {"vector": [float(x) for x in row], "k": k + 1}}}}))
                answer = self.client.msearch(body="\n".join(lines) + "\n")
                for doc_id, response in zip(ids[start:start + self.batch_size], answer["responses"], strict=True):
                    if "error" in response:
                        reason = error_reason(response["error"])
                        raise BackendError(f"k-NN search in {self.index_name} failed: {reason}")
                    hits = [(hit["_id"], _similarity(hit["_score"])) for hit in response["hits"]["hits"]
                            if hit["_id"] != doc_id]
                    found.append(hits[:k])
        return found

    def delete(self) -> None:
        """Delete the k-NN index (no error if it is absent)."""
        with translate_errors(f"delete k-NN index {self.index_name}", self.url):
            self.client.indices.delete(index=self.index_name, ignore_unavailable=True)

    def close(self) -> None:
        """Close the HTTP connections."""
        self.client.close()

    def _check(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        if vectors.ndim != 2 or vectors.shape != (len(ids), self.dimension):
            raise ConfigError(f"expected {len(ids)} x {self.dimension} embeddings, got {vectors.shape}")


def _similarity(score: Any) -> float:
    """The inner product behind an ``innerproduct`` k-NN score (OpenSearch maps ``s >= 0`` to ``s + 1``)."""
    value = float(score)
    return value - 1.0 if value >= 1.0 else 1.0 - 1.0 / value
