"""Build the benchmark indexes on Lucene and OpenSearch, and the query methods over them.

Each engine gets, per dataset: an exact index (text + full vectors), one index per
ingest-time pruning ratio (``max_ratio``), and on OpenSearch a ``sparse_vector`` SEISMIC
index (keys are bert token ids). Indexes are reused when they already hold the dataset's
document count. Methods are ``Callable[[int], float | None]`` for
``sparsedoc.plugin.latency_bench``; ``top10`` functions give each method's top-10 ids for
recall against exact search.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from sparsedoc.encoder.pruning import Pruning
from sparsedoc.encoder.sparse_vector import SparseVector
from sparsedoc.plugin.base import EncodedDocument
from sparsedoc.plugin.latency_bench import Method, OpenSearchMethods

from .datasets import Dataset
from .synthetic import VOCAB_PATH

logger = logging.getLogger(__name__)

Top10 = Callable[[int], list[str]]


def pruned(documents: Iterable[EncodedDocument], ratio: float) -> Iterator[EncodedDocument]:
    """Apply ingest-time ``max_ratio`` pruning to each document's vector."""
    rule = Pruning("max_ratio", ratio)
    for doc in documents:
        yield EncodedDocument(doc.doc_id, doc.text, rule.apply(doc.vector))


def query_pruned(vectors: list[SparseVector], keep: int) -> list[SparseVector]:
    """Keep each query's ``keep`` highest-IDF tokens (query weights are IDFs)."""
    return [v.top_k(keep) for v in vectors]


# ---- Lucene -------------------------------------------------------------------------


class LuceneSetup:
    """The Lucene indexes of one dataset and the methods over them."""

    def __init__(self, dataset: Dataset, root: Path, prune_ratios: list[float]) -> None:
        from sparsedoc.plugin.lucene_backend import LuceneBackend

        self.dataset = dataset
        self.build_seconds: dict[str, float] = {}
        self.backends = {}
        for variant, ratio in [("exact", None), *((f"prune{r}", r) for r in prune_ratios)]:
            backend = LuceneBackend(root / dataset.name / f"lucene-{variant}")
            if not (backend.path.exists() and _safe_count(backend) == dataset.num_documents):
                backend.create_index(overwrite=True)
                docs = dataset.documents() if ratio is None else pruned(dataset.documents(), ratio)
                start = time.perf_counter()
                for chunk in _chunks(docs, 5000):
                    backend.index(chunk)
                self.build_seconds[variant] = time.perf_counter() - start
                logger.info("lucene %s/%s: %d docs in %.0f s", dataset.name, variant, dataset.num_documents,
                            self.build_seconds[variant])
            self.backends[variant] = backend

    def methods(self, k: int, query_keep: list[int]) -> tuple[dict[str, Method], dict[str, Top10]]:
        d, exact = self.dataset, self.backends["exact"]
        texts, vectors = d.query_texts, d.query_vectors
        methods: dict[str, Method] = {
            "BM25": lambda i: exact.search_bm25(texts[i], k) and None,
            "exact sparse": lambda i: exact.search_sparse(vectors[i], k) and None,
        }
        top: dict[str, Top10] = {"exact sparse": lambda i: exact.search_sparse(vectors[i], 10).doc_ids}
        for keep in query_keep:
            short = query_pruned(vectors, keep)
            name = f"query top-{keep} IDF"
            methods[name] = lambda i, s=short: exact.search_sparse(s[i], k) and None
            top[name] = lambda i, s=short: exact.search_sparse(s[i], 10).doc_ids
        for variant, backend in self.backends.items():
            if variant == "exact":
                continue
            name = f"ingest max_ratio {variant[5:]}"
            methods[name] = lambda i, b=backend: b.search_sparse(vectors[i], k) and None
            top[name] = lambda i, b=backend: b.search_sparse(vectors[i], 10).doc_ids
        return methods, top

    def close(self) -> None:
        for backend in self.backends.values():
            backend.close()


def _safe_count(backend: Any) -> int:
    try:
        return backend.count()
    except Exception:  # noqa: BLE001 - no or broken index: rebuild
        return -1


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# ---- OpenSearch ---------------------------------------------------------------------

TWO_PHASE_PIPELINE = "sparsedoc-bench-two-phase"


def _token_ids() -> dict[str, int]:
    return {t: i for i, t in enumerate(VOCAB_PATH.read_text(encoding="utf-8").splitlines())}


class OpenSearchSetup:
    """The OpenSearch indexes of one dataset (exact, pruned, SEISMIC) and the methods over them."""

    def __init__(self, client: Any, dataset: Dataset, prune_ratios: list[float], *, seismic: bool = True,
                 prefix: str = "nsb") -> None:
        self.client, self.dataset = client, dataset
        self.prefix = f"{prefix}-{dataset.name}"
        self.build_seconds: dict[str, float] = {}
        self.indices = {"exact": f"{self.prefix}-exact"}
        self.indices |= {f"prune{r}": f"{self.prefix}-prune{r}" for r in prune_ratios}
        for variant, index in self.indices.items():
            ratio = None if variant == "exact" else float(variant[5:])
            docs = dataset.documents() if ratio is None else pruned(dataset.documents(), ratio)
            self._build(index, _rank_features_body(), (
                {"_id": d.doc_id, "text": d.text, "sparse": d.vector.to_dict()} for d in docs), variant)
        self.seismic_index = f"{self.prefix}-seismic" if seismic else None
        if self.seismic_index:
            ids = _token_ids()
            threshold = max(100, dataset.num_documents // 20)
            self._build(self.seismic_index, _seismic_body(threshold), (
                _seismic_source(d, ids) for d in dataset.documents()), "seismic")
            self.token_ids = ids
        client.transport.perform_request("PUT", f"/_search/pipeline/{TWO_PHASE_PIPELINE}", body={
            "request_processors": [{"neural_sparse_two_phase_processor": {
                "enabled": True,
                "two_phase_parameter": {"prune_type": "max_ratio", "prune_ratio": 0.4,
                                        "expansion_rate": 5.0, "max_window_size": 10000}}}]})

    def _build(self, index: str, body: dict[str, Any], sources: Iterable[dict[str, Any]], variant: str) -> None:
        from opensearchpy import helpers

        c = self.client
        if c.indices.exists(index=index):
            c.indices.refresh(index=index, request_timeout=3600)
            if int(c.count(index=index)["count"]) == self.dataset.num_documents:
                return
            c.indices.delete(index=index)
        c.indices.create(index=index, body=body)
        start = time.perf_counter()
        actions = ({"_index": index, "_id": s.pop("_id"), "_source": s} for s in sources)
        for ok, item in helpers.streaming_bulk(c, actions, chunk_size=1000, max_chunk_bytes=50 << 20,
                                               raise_on_error=True, request_timeout=300):
            if not ok:
                raise RuntimeError(f"bulk failure: {item}")
        c.indices.put_settings(index=index, body={"index": {"refresh_interval": "1s"}})
        c.indices.refresh(index=index, request_timeout=3600)  # SEISMIC builds its clusters here
        if variant != "seismic":  # a force merge would rebuild every SEISMIC cluster once more
            c.indices.forcemerge(index=index, max_num_segments=1, request_timeout=3600)
            c.indices.refresh(index=index, request_timeout=600)
        self.build_seconds[variant] = time.perf_counter() - start
        logger.info("opensearch %s: %d docs in %.0f s", index, self.dataset.num_documents,
                    self.build_seconds[variant])

    def methods(self, k: int, query_keep: list[int], seismic_params: list[dict[str, Any]]
                ) -> tuple[dict[str, Method], dict[str, Top10], OpenSearchMethods]:
        d = self.dataset
        texts, vectors = d.query_texts, d.query_vectors
        runner = OpenSearchMethods(self.client, self.indices["exact"], text_field="text", vector_field="sparse", k=k)
        top10 = OpenSearchMethods(self.client, self.indices["exact"], text_field="text", vector_field="sparse", k=10)
        methods: dict[str, Method] = {"BM25": runner.bm25(texts), "exact sparse": runner.sparse(vectors)}
        top: dict[str, Top10] = {"exact sparse": lambda i: top10.ids(top10.sparse_body(vectors[i]))}
        for keep in query_keep:
            short = query_pruned(vectors, keep)
            name = f"query top-{keep} IDF"
            methods[name] = runner.sparse(short)
            top[name] = lambda i, s=short: top10.ids(top10.sparse_body(s[i]))
        for variant, index in self.indices.items():
            if variant == "exact":
                continue
            name = f"ingest max_ratio {variant[5:]}"
            methods[name] = runner.sparse(vectors, index=index)
            top[name] = lambda i, ix=index: top10.ids(top10.sparse_body(vectors[i]), index=ix)
        methods["two-phase (0.4, x5)"] = runner.sparse(vectors, pipeline=TWO_PHASE_PIPELINE)
        top["two-phase (0.4, x5)"] = lambda i: top10.ids(top10.sparse_body(vectors[i]), pipeline=TWO_PHASE_PIPELINE)
        if self.seismic_index:
            ids = self.token_ids
            id_vectors = [SparseVector({str(ids[t]): w for t, w in v.items() if t in ids}) for v in vectors]
            for params in seismic_params:
                name = f"SEISMIC top_n={params['top_n']} hf={params['heap_factor']}"
                mp = {"k": k, **params}
                methods[name] = runner.sparse(id_vectors, index=self.seismic_index, field="sv", method_parameters=mp)
                mp10 = {"k": 10, **params}
                top[name] = lambda i, mp10=mp10: top10.ids(
                    top10.sparse_body(id_vectors[i], field="sv", method_parameters=mp10), index=self.seismic_index)
        return methods, top, runner

    def profile(self, query: int) -> dict[str, Any]:
        """Server-side ``"profile": true`` breakdown of BM25 and exact sparse for one query."""
        d = self.dataset
        runner = OpenSearchMethods(self.client, self.indices["exact"], text_field="text", vector_field="sparse", k=10)
        out = {}
        for name, body in (("BM25", runner.bm25_body(d.query_texts[query])),
                           ("exact sparse", runner.sparse_body(d.query_vectors[query]))):
            shard = runner.search({**body, "profile": True})["profile"]["shards"][0]
            search = shard["searches"][0]
            out[name] = {
                "query_ms": sum(q["time_in_nanos"] for q in search["query"]) / 1e6,
                "collector_ms": sum(c["time_in_nanos"] for c in search["collector"]) / 1e6,
                "query_type": search["query"][0]["type"],
                "clauses": len(search["query"][0].get("children", [])),
                "breakdown_ms": {key: v / 1e6 for key, v in search["query"][0]["breakdown"].items()
                                 if key.endswith(("score", "next_doc", "advance", "create_weight",
                                                  "build_scorer", "match")) and not key.endswith("_count")},
            }
        return out


def _seismic_source(doc: EncodedDocument, ids: dict[str, int]) -> dict[str, Any]:
    """A SEISMIC document; an empty vector leaves the field out (an empty one is refused)."""
    vector = {str(ids[t]): w for t, w in doc.vector.items() if t in ids}
    return {"_id": doc.doc_id, **({"sv": vector} if vector else {})}


def _rank_features_body() -> dict[str, Any]:
    return {
        "settings": {"index": {"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "-1"},
                     "similarity": {"default": {"type": "BM25", "k1": 0.9, "b": 0.4}}},
        "mappings": {"dynamic": "strict", "properties": {
            "sparse": {"type": "rank_features"}, "text": {"type": "text", "analyzer": "english"}}},
    }


def _seismic_body(threshold: int) -> dict[str, Any]:
    return {
        "settings": {"index": {"sparse": True, "number_of_shards": 1, "number_of_replicas": 0,
                               "refresh_interval": "-1"}},
        "mappings": {"properties": {"sv": {"type": "sparse_vector", "method": {"name": "seismic", "parameters": {
            "n_postings": 300, "cluster_ratio": 0.1, "summary_prune_ratio": 0.4,
            "approximate_threshold": threshold}}}}},
    }
