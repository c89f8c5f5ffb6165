"""The OpenSearch backend: ``rank_features`` + text, bulk ingestion, ``neural_sparse`` search.

Documents are written with ``op_type=create`` and ``_id = doc_id``, so writing is
idempotent: a re-run after an interruption skips what is already there (409 -> skipped)
and never duplicates. HTTP 429 answers are retried per document with exponential backoff
(opensearch-py's ``streaming_bulk``); connection failures and 5xx are retried by the
transport, then surface as one-line ``PartialWriteError``s that say how much was written.
Credentials never appear in messages: URLs are shown without user info.

Stored weights must be positive normal float32 values: weights below the smallest normal
float32 (about 1.2e-38) contribute nothing and are dropped before writing; weights above
float32's range are refused by the engine and reported as failures, never clamped.

This module creates, fills and deletes the index; searching it (sparse, BM25, hybrid,
explain) is the base class's, in ``sparsedoc.plugin.opensearch.reading``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypedDict

from sparsedoc.encoder.errors import BackendError, ConfigError, IndexFailure, PartialWriteError
from sparsedoc.encoder.sparse_vector import SparseVector

from ..base import EncodedDocument, IndexReport, first_occurrences
from .client import basic_auth_user, open_client
from .errors import error_reason, redact_url
from .queries import BM25_B, BM25_K1, QUERY_MODES, TwoPhaseParameters, index_body, two_phase_pipeline
from .reading import OpenSearchReading

FLOAT32_MIN_NORMAL = 1.1754944e-38


class _IndexSettings(TypedDict):
    shards: int
    replicas: int
    refresh_interval: str
    k1: float
    b: float


class _BulkSettings(TypedDict):
    chunk_size: int
    max_retries: int
    initial_backoff: float
    max_backoff: float


class OpenSearchBackend(OpenSearchReading):
    """One OpenSearch index holding each document's sparse vector and text.

    Args:
        url: cluster URL, ``http://`` or ``https://`` (TLS).
        index: index name.
        http_auth: ``(user, password)`` for basic auth.
        ca_certs: CA bundle to verify the cluster's certificate.
        verify_certs: verify TLS certificates (keep on outside tests).
        query_mode: ``neural_sparse`` (plugin), ``rank_feature`` (core) or ``auto`` (detect).
        vector_field / text_field: field names.
        shards / replicas / refresh_interval: index settings used by ``create_index``.
        k1 / b: BM25 parameters of the text field (Anserini's defaults).
        chunk_size: documents per bulk request.
        max_retries / initial_backoff / max_backoff: 429 retry policy of bulk writes.
        timeout: seconds per request.
        two_phase: parameters of neural-search's two-phase search processor (e.g.
            ``{"prune_ratio": 0.4, "expansion_rate": 5.0, "max_window_size": 10000}``),
            installed as the index's default search pipeline; ``None`` for exact search.

    Example:
        >>> backend = OpenSearchBackend("http://127.0.0.1:9200", "docs")  # doctest: +SKIP
        >>> backend.search_sparse(SparseVector({"wing": 3.1}), k=10).hits  # doctest: +SKIP
    """

    def __init__(
        self,
        url: str,
        index: str,
        *,
        http_auth: tuple[str, str] | None = None,
        ca_certs: str | None = None,
        verify_certs: bool = True,
        query_mode: str = "auto",
        vector_field: str = "sparse",
        text_field: str = "text",
        shards: int = 1,
        replicas: int = 0,
        refresh_interval: str = "1s",
        k1: float = BM25_K1,
        b: float = BM25_B,
        chunk_size: int = 500,
        max_retries: int = 5,
        initial_backoff: float = 1.0,
        max_backoff: float = 30.0,
        timeout: float = 30.0,
        two_phase: TwoPhaseParameters | None = None,
    ) -> None:
        if query_mode not in QUERY_MODES:
            raise ConfigError(f"query_mode must be one of {QUERY_MODES}, got {query_mode!r}")
        if not index or index != index.lower() or index.startswith(("_", "-", "+")):
            raise ConfigError(f"invalid OpenSearch index name {index!r} (lowercase, not starting with _ - +)")
        if chunk_size < 1:
            raise ConfigError(f"chunk_size must be >= 1, got {chunk_size}")
        self.url = redact_url(url)
        self.index_name = index
        self.vector_field = vector_field
        self.text_field = text_field
        self._settings = _IndexSettings(shards=shards, replicas=replicas, refresh_interval=refresh_interval,
                                        k1=k1, b=b)
        self._bulk = _BulkSettings(chunk_size=chunk_size, max_retries=max_retries,
                                   initial_backoff=initial_backoff, max_backoff=max_backoff)
        self._two_phase = two_phase
        self._mode = query_mode
        self._ready = False  # the index is known to exist (created or checked)
        self._pipelines: set[str] = set()
        self._analyzer_checked = False
        self.client = open_client(url, http_auth=http_auth, ca_certs=ca_certs, verify_certs=verify_certs,
                                  timeout=timeout)
        self._user = basic_auth_user(url, http_auth)

    # -- index lifecycle ---------------------------------------------------------------------
    def create_index(self, *, overwrite: bool = False) -> None:
        """Create the index (and the two-phase pipeline if configured)."""
        self._forget_build_record()
        with self._errors(f"create index {self.index_name}"):
            exists = self.client.indices.exists(index=self.index_name)
            if exists and overwrite:
                self.client.indices.delete(index=self.index_name)
            elif exists:
                self._check_mapping()
                self._ready = True
                return
            body = index_body(vector_field=self.vector_field, text_field=self.text_field, **self._settings)
            if self._two_phase is not None:
                pipeline = f"{self.index_name}-two-phase"
                self.client.transport.perform_request(
                    "PUT", f"/_search/pipeline/{pipeline}", body=two_phase_pipeline(**self._two_phase))
                body["settings"]["index"]["search.default_pipeline"] = pipeline
            self.client.indices.create(index=self.index_name, body=body)
        self._ready = True

    def _check_mapping(self) -> None:
        mapping = self.client.indices.get_mapping(index=self.index_name)
        properties = next(iter(mapping.values()))["mappings"].get("properties", {})
        if properties.get(self.vector_field, {}).get("type") != "rank_features":
            raise BackendError(f"index {self.index_name} at {self.url} exists without a rank_features field "
                               f"'{self.vector_field}'; choose another index or overwrite it")

    def record_build(self, record: Mapping[str, object]) -> None:
        """Store how the index was built in its mapping's ``_meta`` (``sparsedoc_build``)."""
        with self._errors(f"record the build of index {self.index_name}"):
            self.client.indices.put_mapping(index=self.index_name, body={"_meta": {"sparsedoc_build": dict(record)}})
        self._forget_build_record()

    def build_record(self) -> dict[str, object]:
        """How the index was built (``{}`` if nothing was recorded or the index is missing)."""
        with self._errors(f"read the mapping of index {self.index_name}"):
            if not self.client.indices.exists(index=self.index_name):
                return {}
            mapping = self.client.indices.get_mapping(index=self.index_name)
        meta = next(iter(mapping.values()))["mappings"].get("_meta", {})
        return dict(meta.get("sparsedoc_build", {}))

    def delete_index(self) -> None:
        """Delete the index (and its two-phase pipeline); a missing index is fine."""
        self._ready = False
        self._forget_build_record()
        with self._errors(f"delete index {self.index_name}"):
            self.client.indices.delete(index=self.index_name, ignore_unavailable=True)
            if self._two_phase is not None:
                self.client.transport.perform_request(
                    "DELETE", f"/_search/pipeline/{self.index_name}-two-phase", params={"ignore": 404})

    def close(self) -> None:
        """Close the HTTP connections."""
        self.client.close()

    # -- writing ---------------------------------------------------------------------------
    def index(self, documents: Iterable[EncodedDocument]) -> IndexReport:
        """Bulk-write documents under the ``Backend`` contract (existing ids answer 409: skipped)."""
        from opensearchpy import helpers

        if not self._ready:
            self.create_index()
        report = IndexReport()
        actions = (
            {"_op_type": "create", "_index": self.index_name, "_id": d.doc_id,
             "_source": {self.vector_field: _storable(d.vector), self.text_field: d.text}}
            for d in first_occurrences(documents, report.failures)
        )
        try:
            with self._errors(f"bulk write to {self.index_name}"):
                # opensearch-py annotates the backoffs as int; it sleeps any number of seconds
                for ok, item in helpers.streaming_bulk(self.client, actions, raise_on_error=False,
                                                       **self._bulk):  # type: ignore[arg-type]
                    result = item["create"]
                    if ok:
                        report.indexed += 1
                    elif result.get("status") == 409:
                        report.skipped += 1
                    else:
                        report.failures.append(IndexFailure(str(result.get("_id")), error_reason(result.get("error"))))
        except BackendError as err:
            raise PartialWriteError(str(err), report.indexed) from err
        with self._errors(f"refresh {self.index_name}"):
            self.client.indices.refresh(index=self.index_name)
        return report


def _storable(vector: SparseVector) -> dict[str, float]:
    """The vector's weights that ``rank_features`` can store (see the module notes)."""
    return {token: weight for token, weight in vector.items() if weight >= FLOAT32_MIN_NORMAL}
