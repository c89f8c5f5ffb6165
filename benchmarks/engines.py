"""Build the benchmark indexes on Lucene and OpenSearch, and the query methods over them.

Each engine gets, per dataset: an exact index (text + full vectors), one index per
ingest-time pruning ratio (``max_ratio``), and on OpenSearch a ``sparse_vector`` SEISMIC
index (keys are bert token ids). Indexes are reused when they already hold the dataset's
document count. Methods are ``Callable[[int], float | None]`` for
``sparsedoc.plugin.latency_bench``; ``top10`` functions give each method's top-10 ids for
recall against exact search.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from sparsedoc.cli.environment import jvm_settings
from sparsedoc.encoder.pruning import Pruning
from sparsedoc.encoder.sparse_vector import SparseVector
from sparsedoc.ingest.synthetic import VOCAB_PATH
from sparsedoc.plugin.approximate import Seismic, TwoPhase
from sparsedoc.plugin.base import EncodedDocument
from sparsedoc.plugin.latency_bench import Method
from sparsedoc.plugin.lucene.reorder import Reordering
from sparsedoc.plugin.opensearch.client import require_feature
from sparsedoc.plugin.opensearch.latency import OpenSearchMethods, slowlog_took_ms
from sparsedoc.plugin.opensearch.queries import check_vocabulary_size, index_body, token_id_vector, two_phase_pipeline

from .datasets import Dataset

logger = logging.getLogger(__name__)

Top10 = Callable[[int], list[str]]
Body = Callable[[int, int], dict[str, Any]]
Spec = tuple[str, "str | None", Body]  # index, search pipeline, body of query i for size hits


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
    """The Lucene indexes of one dataset and the methods over them.

    Every index is force-merged to one segment (as the OpenSearch indexes are). The exact
    index also holds the SEISMIC vectors (``sparsedoc.plugin.lucene.seismic``); its SEISMIC
    index is built on the first SEISMIC search, timed as ``build_seconds["seismic"]``.
    With ``reorder``, a copy of the exact index is BP-reordered (``lucene-exact-bp``): BM25,
    exact sparse and two-phase also run on it, named ``... (BP)``.
    """

    def __init__(self, dataset: Dataset, root: Path, prune_ratios: list[float], *,
                 seismic: list[Seismic] | None = None, two_phase: list[TwoPhase] | None = None,
                 reorder: Reordering | None = None) -> None:
        from sparsedoc.plugin.lucene.backend import LuceneBackend

        self.jvm = jvm = jvm_settings(reordering=reorder is not None)
        self.dataset = dataset
        self.build_seconds: dict[str, float] = {}
        self.backends = {}
        for variant, ratio in [("exact", None), *((f"prune{r}", r) for r in prune_ratios)]:
            backend = LuceneBackend(root / dataset.name / f"lucene-{variant}", jvm=jvm)
            if not (backend.path.exists() and _safe_count(backend) == dataset.num_documents):
                backend.create_index(overwrite=True)
                docs = dataset.documents() if ratio is None else pruned(dataset.documents(), ratio)
                start = time.perf_counter()
                for chunk in _chunks(docs, 5000):
                    backend.index(chunk)
                backend.force_merge()
                self.build_seconds[variant] = time.perf_counter() - start
                logger.info("lucene %s/%s: %d docs in %.0f s", dataset.name, variant, dataset.num_documents,
                            self.build_seconds[variant])
            backend.force_merge()
            self.backends[variant] = backend
        exact_path = self.backends["exact"].path
        if reorder is not None:
            self.backends["exact-bp"] = self._reordered(self.backends["exact"], reorder)
        self.approximate = {f"two-phase ({t.prune_ratio}, x{t.expansion_rate:g})": LuceneBackend(
            exact_path, approximate=t, jvm=jvm) for t in two_phase or []}
        if reorder is not None:
            self.approximate |= {f"two-phase ({t.prune_ratio}, x{t.expansion_rate:g}) (BP)": LuceneBackend(
                self.backends["exact-bp"].path, approximate=t, jvm=jvm) for t in two_phase or []}
        for settings in seismic or []:
            self._seismic_vectors(exact_path, settings)
            backend = LuceneBackend(exact_path, approximate=settings, jvm=jvm)
            start = time.perf_counter()
            backend.search_sparse(dataset.query_vectors[0], 10)  # builds (or loads) the SEISMIC index
            self.build_seconds.setdefault("seismic", time.perf_counter() - start)
            name = f"SEISMIC n={settings.n_postings} qc={settings.query_cut} hf={settings.heap_factor}"
            self.approximate[name] = backend

    def _reordered(self, exact: Any, reorder: Reordering) -> Any:
        """A BP-reordered copy of the exact index (made once; reordering timed as ``build_seconds["bp"]``)."""
        from sparsedoc.plugin.lucene.backend import LuceneBackend

        path = exact.path.with_name(f"{exact.path.name}-bp")
        done = path / "bp.json"
        stamp = {**asdict(reorder), "fields": list(reorder.fields), "documents": self.dataset.num_documents}
        if not (done.is_file() and json.loads(done.read_text()) == stamp):
            exact.close()
            shutil.rmtree(path, ignore_errors=True)
            shutil.copytree(exact.path, path)
            backend = LuceneBackend(path, jvm=self.jvm)
            self.build_seconds["bp"] = backend.force_merge(reorder=reorder) or 0.0
            done.write_text(json.dumps(stamp))
            logger.info("lucene %s: BP reordering took %.0f s", self.dataset.name, self.build_seconds["bp"])
            return backend
        return LuceneBackend(path, jvm=self.jvm)

    def _seismic_vectors(self, path: Path, settings: Seismic) -> None:
        from sparsedoc.plugin.lucene.seismic import SeismicSidecar

        sidecar = SeismicSidecar(path, settings)
        if sidecar.vectors_path.is_file() and _lines(sidecar.vectors_path) == self.dataset.num_documents:
            return
        sidecar.vectors_path.unlink(missing_ok=True)
        for chunk in _chunks(self.dataset.documents(), 5000):
            sidecar.add(chunk)

    def methods(self, k: int, query_keep: list[int]) -> tuple[dict[str, Method], dict[str, Top10]]:
        d, exact = self.dataset, self.backends["exact"]
        texts, vectors = d.query_texts, d.query_vectors
        methods: dict[str, Method] = {
            "BM25": _cpu_ms(lambda i: exact.search_bm25(texts[i], k)),
            "exact sparse": _cpu_ms(lambda i: exact.search_sparse(vectors[i], k)),
        }
        top: dict[str, Top10] = {"exact sparse": lambda i: exact.search_sparse(vectors[i], 10).doc_ids}
        for keep in query_keep:
            short = query_pruned(vectors, keep)
            name = f"query top-{keep} IDF"
            methods[name] = _cpu_ms(lambda i, s=short: exact.search_sparse(s[i], k))
            top[name] = lambda i, s=short: exact.search_sparse(s[i], 10).doc_ids
        if "exact-bp" in self.backends:
            bp = self.backends["exact-bp"]
            methods["BM25 (BP)"] = _cpu_ms(lambda i: bp.search_bm25(texts[i], k))
            methods["exact sparse (BP)"] = _cpu_ms(lambda i: bp.search_sparse(vectors[i], k))
            top["exact sparse (BP)"] = lambda i: bp.search_sparse(vectors[i], 10).doc_ids
        named = {f"ingest max_ratio {v[5:]}": b for v, b in self.backends.items() if v.startswith("prune")}
        for name, backend in {**named, **self.approximate}.items():
            methods[name] = _cpu_ms(lambda i, b=backend: b.search_sparse(vectors[i], k))
            top[name] = lambda i, b=backend: b.search_sparse(vectors[i], 10).doc_ids
        return methods, top

    def close(self) -> None:
        for backend in [*self.backends.values(), *self.approximate.values()]:
            backend.close()


def _cpu_ms(search: Callable[[int], Any]) -> Method:
    """``search`` as a method that reports its thread's CPU milliseconds as the engine time.

    The embedded engine searches in the calling thread, so thread CPU time is its work
    without the waits for a core that dominate wall-clock tails on a loaded machine.
    """
    def method(i: int) -> float:
        start = time.thread_time()
        search(i)
        return (time.thread_time() - start) * 1000.0

    return method


def _lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


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


SEISMIC_NODE_SETTINGS = {
    # posting lists are clustered in this pool, one thread by default (1M documents: 39 min on 2 threads here)
    "plugins.neural_search.sparse.algo_param.index_thread_qty": os.cpu_count() or 1,
    # clustered postings and the forward index live in this heap cache (default 10%, too small at 1M)
    "plugins.neural_search.circuit_breaker.limit": "50%",
}
"""Cluster settings for the SEISMIC runs (both dynamic)."""


def _token_ids() -> dict[str, int]:
    return {t: i for i, t in enumerate(VOCAB_PATH.read_text(encoding="utf-8").splitlines())}


class OpenSearchSetup:
    """The OpenSearch indexes of one dataset (exact, pruned, SEISMIC) and the methods over them."""

    def __init__(self, client: Any, dataset: Dataset, prune_ratios: list[float], *, seismic: bool = True,
                 seismic_build: Seismic | None = None, prefix: str = "nsb") -> None:
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
            require_feature(client, "the benchmark cluster", "sparse_vector", "SEISMIC (sparse_vector) search")
            client.cluster.put_settings(body={"persistent": SEISMIC_NODE_SETTINGS})
            ids = _token_ids()
            check_vocabulary_size(len(ids))
            self._build(self.seismic_index, _seismic_body(dataset.num_documents, seismic_build), (
                _seismic_source(d, ids) for d in dataset.documents()), "seismic")
            self.token_ids = ids
        client.transport.perform_request("PUT", f"/_search/pipeline/{TWO_PHASE_PIPELINE}", body=two_phase_pipeline(
            prune_ratio=0.4, expansion_rate=5.0, max_window_size=10000))

    def _build(self, index: str, body: dict[str, Any], sources: Iterable[dict[str, Any]], variant: str) -> None:
        from opensearchpy import helpers

        c = self.client
        if c.indices.exists(index=index):
            meta = c.indices.get_mapping(index=index)[index]["mappings"].get("_meta")
            if meta == body["mappings"].get("_meta"):
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
        c.indices.refresh(index=index, request_timeout=3600)
        # SEISMIC clusters only segments of at least its threshold (the corpus size): the one merged segment
        c.indices.forcemerge(index=index, max_num_segments=1, request_timeout=7200)
        c.indices.refresh(index=index, request_timeout=600)
        self.build_seconds[variant] = time.perf_counter() - start
        logger.info("opensearch %s: %d docs in %.0f s", index, self.dataset.num_documents,
                    self.build_seconds[variant])

    def specs(self, query_keep: list[int], seismic_params: list[dict[str, Any]]) -> dict[str, Spec]:
        """Every method as (index, pipeline, body of query ``i`` for ``size`` hits)."""
        d, exact = self.dataset, self.indices["exact"]
        bodies = OpenSearchMethods(self.client, exact, text_field="text", vector_field="sparse")
        texts, vectors = d.query_texts, d.query_vectors

        def sparse(vs: list[SparseVector], **kw: Any) -> Body:
            return lambda i, size: {**bodies.sparse_body(vs[i], **kw), "size": size}

        specs: dict[str, Spec] = {
            "BM25": (exact, None, lambda i, size: {**bodies.bm25_body(texts[i]), "size": size}),
            "exact sparse": (exact, None, sparse(vectors)),
        }
        for keep in query_keep:
            specs[f"query top-{keep} IDF"] = (exact, None, sparse(query_pruned(vectors, keep)))
        for variant, index in self.indices.items():
            if variant != "exact":
                specs[f"ingest max_ratio {variant[5:]}"] = (index, None, sparse(vectors))
        specs["two-phase (0.4, x5)"] = (exact, TWO_PHASE_PIPELINE, sparse(vectors))
        if self.seismic_index:
            ids = self.token_ids
            id_vectors = [SparseVector(token_id_vector(v, ids)) for v in vectors]
            for params in seismic_params:
                def body(i: int, size: int, params: dict[str, Any] = params) -> dict[str, Any]:
                    mp = {"k": size, **params}
                    return {**bodies.sparse_body(id_vectors[i], field="sv", method_parameters=mp), "size": size}

                specs[f"SEISMIC top_n={params['top_n']} hf={params['heap_factor']}"] = (self.seismic_index, None, body)
        return specs

    def methods(self, k: int, query_keep: list[int], seismic_params: list[dict[str, Any]]
                ) -> tuple[dict[str, Method], dict[str, Top10], dict[str, Spec]]:
        """Timed methods (returning ``took``), top-10 functions, and the specs behind them."""
        runner = OpenSearchMethods(self.client, self.indices["exact"], k=k)
        specs = self.specs(query_keep, seismic_params)
        n = len(self.dataset.query_texts)
        methods: dict[str, Method] = {}
        top: dict[str, Top10] = {}
        for name, (index, pipeline, body) in specs.items():
            params = {"search_pipeline": pipeline} if pipeline else None
            prepared = [body(i, k) for i in range(n)]
            methods[name] = lambda i, ix=index, p=params, b=prepared: float(runner.search(b[i], index=ix, params=p)["took"])
            if name != "BM25":
                top[name] = lambda i, ix=index, pl=pipeline, body=body: runner.ids(body(i, 10), index=ix, pipeline=pl)
        return methods, top, specs

    def server_times(self, specs: dict[str, Spec], k: int, num_queries: int,
                     slowlog: Path) -> dict[str, dict[str, float]]:
        """Server-side query-phase time per method, in ms at µs precision, from the search slow log.

        ``took`` in a response is whole milliseconds, too coarse below 1 ms; the profile API is
        finer but its per-document instrumentation inflates BM25 and ``rank_features`` queries
        ten times at 1M documents while SEISMIC's scorer is barely instrumented, so it is not used.
        With a 0 ms threshold the slow log records every query phase as ``took[...]`` (the
        shard's own timer: no HTTP, JSON or fetch phase). Each method runs its queries as one
        batch after 10 warm-up queries, on a node this process started (``slowlog`` is its file).
        """
        runner = OpenSearchMethods(self.client, self.indices["exact"], k=k)
        indices = ",".join(sorted({index for index, _, _ in specs.values()}))
        threshold = "index.search.slowlog.threshold.query.warn"
        self.client.indices.put_settings(index=indices, body={threshold: "0ms"})
        out = {}
        try:
            for name, (index, pipeline, body) in specs.items():
                params = {"search_pipeline": pipeline} if pipeline else None
                for i in range(-min(10, num_queries), 0):
                    runner.search(body(i, k), index=index, params=params)
                offset = slowlog.stat().st_size
                for i in range(num_queries):
                    runner.search(body(i, k), index=index, params=params)
                times = slowlog_took_ms(slowlog, offset, index)
                if len(times) != num_queries:
                    raise RuntimeError(f"{slowlog}: {len(times)} query-phase entries for {num_queries} {name} queries")
                out[name] = {"p50_ms": float(np.percentile(times, 50)), "p99_ms": float(np.percentile(times, 99)),
                             "mean_ms": float(np.mean(times)), "queries": num_queries}
        finally:
            self.client.indices.put_settings(index=indices, body={threshold: None})
        return out


def _seismic_source(doc: EncodedDocument, ids: dict[str, int]) -> dict[str, Any]:
    """A SEISMIC document keyed by token ids; an empty vector leaves the field out (an empty one is refused)."""
    vector = token_id_vector(doc.vector, ids)
    return {"_id": doc.doc_id, **({"sv": vector} if vector else {})}


def _rank_features_body() -> dict[str, Any]:
    """The backend's index body (``rank_features`` + English text, default BM25), one shard, refresh off for the load."""
    return index_body(vector_field="sparse", text_field="text", shards=1, replicas=0, refresh_interval="-1")


def _seismic_body(documents: int, tuned: Seismic | None) -> dict[str, Any]:
    """A one-shard SEISMIC index of ``documents``; ``_meta`` records the parameters, so changing one rebuilds it.

    The build parameters are the embedded index's tuned ones (``tuned``; OpenSearch's defaults
    when ``None``), with ``n_postings`` at least 300 and 0.2% of the documents.
    """
    build = tuned or Seismic(centroid_fraction=0.1, summary_energy=0.4)
    parameters = {"n_postings": max(300, documents * 2 // 1000, build.n_postings if tuned else 0),
                  "cluster_ratio": build.centroid_fraction, "summary_prune_ratio": build.summary_energy,
                  "approximate_threshold": documents}
    return {
        "settings": {"index": {"sparse": True, "number_of_shards": 1, "number_of_replicas": 0,
                               "refresh_interval": "-1"}},
        "mappings": {"_meta": {"build": f"seismic {json.dumps(parameters, sort_keys=True)}"}, "properties": {
            "sv": {"type": "sparse_vector", "method": {"name": "seismic", "parameters": parameters}}}},
    }
