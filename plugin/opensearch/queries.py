"""Request bodies for OpenSearch: the index mapping and the sparse and BM25 queries.

Sparse scoring is a dot product in every mode: ``neural_sparse`` with ``query_tokens``
(neural-search plugin) and the core fallback, a ``bool``/``should`` of linear
``rank_feature`` clauses, both build Lucene ``FeatureField`` linear queries, so
``score = sum_t q_t * d_t`` with ``d_t`` stored at ``rank_features`` precision (9
significant bits, about 0.4% relative error).

Two limits are handled deliberately:

- Lucene rejects linear weights outside ``(0, 64]``. A query whose largest weight exceeds
  64 is scaled down by ``max / 64`` (the ranking is unchanged) and the backend multiplies
  the returned scores back, so scores stay true dot products.
- ``rank_feature`` addresses a token as the field path ``<field>.<token>``, split at the
  last dot, so tokens containing ``.`` cannot be queried in the fallback mode; they are
  dropped from fallback queries (and logged). ``neural_sparse`` has no such limit, and
  documents always store every token unchanged, so server-side ingestion and the
  ``analyzer`` mode see the same tokens.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

from sparsedoc.encoder.errors import ConfigError

from ..fusion import Fusion

MAX_LINEAR_WEIGHT = 64.0
QUERY_MODES = ("auto", "neural_sparse", "rank_feature")
BM25_K1 = 0.9
BM25_B = 0.4
"""BM25 parameters of the text field by default (Anserini's, as in the embedded Lucene backend)."""


@dataclass(frozen=True)
class SparseQuery:
    """A query body plus the factor to multiply returned scores by, and tokens left out."""

    body: dict[str, Any]
    score_factor: float
    dropped_tokens: tuple[str, ...] = ()


def index_body(
    *, vector_field: str = "sparse", text_field: str = "text", shards: int = 1, replicas: int = 0,
    refresh_interval: str = "1s", k1: float = BM25_K1, b: float = BM25_B,
) -> dict[str, Any]:
    """Settings and mappings: ``rank_features`` + English-analysed text scored by BM25(k1, b)."""
    return {
        "settings": {
            "index": {"number_of_shards": shards, "number_of_replicas": replicas, "refresh_interval": refresh_interval},
            "similarity": {"default": {"type": "BM25", "k1": k1, "b": b}},
        },
        "mappings": {
            "dynamic": "strict",
            "properties": {
                vector_field: {"type": "rank_features"},
                text_field: {"type": "text", "analyzer": "english"},
            },
        },
    }


def sparse_query(vector: Mapping[str, float], *, field: str, mode: str, size: int,
                 method_parameters: Mapping[str, Any] | None = None) -> SparseQuery:
    """Build the dot-product query for ``vector`` in ``mode`` (``neural_sparse`` or ``rank_feature``).

    ``method_parameters`` (``neural_sparse`` only) go with the query tokens, e.g. SEISMIC's
    ``{"k": 10, "top_n": 10, "heap_factor": 1.0}`` on a ``sparse_vector`` field.
    """
    if mode not in ("neural_sparse", "rank_feature"):
        raise ConfigError(f"query mode must be neural_sparse or rank_feature, got {mode!r}")
    if method_parameters is not None and mode != "neural_sparse":
        raise ConfigError(f"method_parameters need query mode neural_sparse, got {mode!r}")
    dropped: tuple[str, ...] = ()
    weights = dict(vector)
    if mode == "rank_feature":
        dropped = tuple(t for t in weights if "." in t)
        weights = {t: w for t, w in weights.items() if "." not in t}
    largest = max(weights.values(), default=0.0)
    factor = largest / MAX_LINEAR_WEIGHT if largest > MAX_LINEAR_WEIGHT else 1.0
    weights = {t: w / factor for t, w in weights.items()}
    if not weights:
        query: dict[str, Any] = {"match_none": {}}
    elif mode == "neural_sparse":
        inner: dict[str, Any] = {"query_tokens": weights}
        if method_parameters is not None:
            inner["method_parameters"] = dict(method_parameters)
        query = {"neural_sparse": {field: inner}}
    else:
        query = {"bool": {"should": [
            {"rank_feature": {"field": f"{field}.{t}", "linear": {}, "boost": w}} for t, w in weights.items()
        ]}}
    return SparseQuery({"size": size, "query": query, "_source": False}, factor, dropped)


def analyzer_query(text: str, *, field: str, analyzer: str, size: int) -> dict[str, Any]:
    """Inference-free ``neural_sparse`` by a server-side analyzer (OpenSearch 3.1+)."""
    return {"size": size, "_source": False,
            "query": {"neural_sparse": {field: {"query_text": text, "analyzer": analyzer}}}}


def payload_float(payload: str) -> float:
    """The float32 an ``_analyze`` explanation shows as a payload's big-endian bytes, e.g. ``[40 de 31 fa]``.

    Example:
        >>> round(payload_float("[40 de 31 fa]"), 4)
        6.9436
    """
    return float(struct.unpack(">f", bytes(int(part, 16) for part in payload.strip("[]").split()))[0])


def bm25_clause(text: str, *, field: str, terms: Mapping[str, int] | None = None) -> dict[str, Any]:
    """BM25 over the text field: ``match`` on ``text``, or the analysed ``terms`` it was cut to.

    ``terms`` (analysed term -> count in the query, after ``query_budget.budget_terms``)
    become a ``bool`` of ``term`` queries boosted by count, which scores as ``match`` does
    (one clause per occurrence of a term); no terms match nothing.
    """
    if terms is None:
        return {"match": {field: text}}
    if not terms:
        return {"match_none": {}}
    return {"bool": {"should": [{"term": {field: {"value": term, "boost": count}}} for term, count in terms.items()]}}


def bm25_query(clause: dict[str, Any], *, size: int) -> dict[str, Any]:
    """A BM25 search body for a ``bm25_clause``."""
    return {"size": size, "_source": False, "query": clause}


def hybrid_query(bm25: dict[str, Any], sparse: dict[str, Any], *, size: int) -> dict[str, Any]:
    """A ``hybrid`` query: the BM25 clause first, then the sparse query; each keeps its top ``size``."""
    return {"size": size, "_source": False, "query": {"hybrid": {"queries": [bm25, sparse]}}}


def stored_feature_value(weight: float) -> float:
    """The weight a ``rank_features`` field keeps of ``weight``, as its scores use it.

    Lucene's ``FeatureField`` stores the float32's bits shifted right by 15 as a term
    frequency, so 8 of the 23 mantissa bits survive (9 significant bits, truncated).

    Example:
        >>> stored_feature_value(1.0), stored_feature_value(1.003)
        (1.0, 1.0)
    """
    bits = struct.unpack("<I", struct.pack("<f", weight))[0] >> 15 << 15
    return float(struct.unpack("<f", struct.pack("<I", bits))[0])


def hybrid_pipeline(fusion: Fusion) -> dict[str, Any]:
    """The search pipeline fusing a hybrid query's sub-query results as ``fusion`` says.

    ``min_max``: neural-search's ``normalization-processor`` (min-max, then weighted
    arithmetic mean, weights in sub-query order). ``rrf``: its ``score-ranker-processor``
    (OpenSearch 2.19+).
    """
    if fusion.method == "rrf":
        processor = {"score-ranker-processor": {
            "combination": {"technique": "rrf", "rank_constant": fusion.rank_constant}}}
    else:
        processor = {"normalization-processor": {
            "normalization": {"technique": "min_max"},
            "combination": {"technique": "arithmetic_mean", "parameters": {"weights": list(fusion.weights)}},
        }}
    return {"description": f"sparsedoc hybrid fusion: {fusion.describe()}", "phase_results_processors": [processor]}


class TwoPhaseParameters(TypedDict):
    """The parameters of neural-search's two-phase processor (see ``sparsedoc.plugin.approximate.TwoPhase``)."""

    prune_ratio: float
    expansion_rate: float
    max_window_size: int


def two_phase_pipeline(*, prune_ratio: float, expansion_rate: float, max_window_size: int) -> dict[str, Any]:
    """A search pipeline with neural-search's two-phase processor (2.15+)."""
    return {"request_processors": [{"neural_sparse_two_phase_processor": {
        "enabled": True,
        "two_phase_parameter": {"prune_type": "max_ratio", "prune_ratio": prune_ratio,
                                "expansion_rate": expansion_rate, "max_window_size": max_window_size},
    }}]}


SPARSE_VECTOR_MAX_IDS = 32_768
"""``sparse_vector`` (SEISMIC) stores token ids as shorts: ids at or above this fold onto smaller ones."""


def token_id_vector(vector: Mapping[str, float], token_ids: Mapping[str, int]) -> dict[str, float]:
    """``vector`` keyed by token id (as strings), for a ``sparse_vector`` field or its query.

    OpenSearch folds ids modulo 32,768, so two tokens of a larger vocabulary (mBERT,
    XLM-R) would silently share one dimension; such ids are refused here instead.

    Raises:
        ConfigError: a token has no id in ``token_ids``, or its id is >= 32,768.
    """
    out: dict[str, float] = {}
    for token, weight in vector.items():
        token_id = token_ids.get(token)
        if token_id is None:
            raise ConfigError(f"token {token!r} has no id in the vocabulary given for sparse_vector")
        if not 0 <= token_id < SPARSE_VECTOR_MAX_IDS:
            raise ConfigError(f"token {token!r} has id {token_id}: sparse_vector keeps ids below "
                              f"{SPARSE_VECTOR_MAX_IDS} (larger ones collide); use a vocabulary of at most "
                              f"{SPARSE_VECTOR_MAX_IDS} tokens or remap ids")
        out[str(token_id)] = weight
    return out


def check_vocabulary_size(size: int) -> None:
    """Refuse a vocabulary whose ids would collide in ``sparse_vector`` (more than 32,768 tokens).

    Raises:
        ConfigError: ``size`` > 32,768.
    """
    if size > SPARSE_VECTOR_MAX_IDS:
        raise ConfigError(f"vocabulary of {size} tokens: sparse_vector folds ids modulo {SPARSE_VECTOR_MAX_IDS}, "
                          "so tokens would collide; use rank_features or remap ids below 32,768")
