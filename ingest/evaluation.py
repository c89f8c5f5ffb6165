"""Evaluate retrieval on a BEIR dataset: BM25, inference-free sparse and hybrid, on one backend.

``evaluate_beir`` is the whole job behind ``sparsedoc eval``: it builds (or reuses) the
workspace's IDF table and encoded vectors, fills the backend, runs every judged query with
each method and returns an ``EvaluationReport``.

Latency is client-side wall time per query, measured interleaved: for every query the
methods run back to back, the order alternating, after an untimed warm-up pass over (up to
``WARMUP_QUERIES`` of) the same queries. The sparse
and hybrid times include query encoding (tokenise + IDF lookup), since that is the whole
online cost of an inference-free model. Ratios are to BM25 on the same queries.
"""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sparsedoc.encoder.idf import load_idf
from sparsedoc.encoder.idf_query_encoder import IdfQueryEncoder
from sparsedoc.encoder.loading import load_tokenizer
from sparsedoc.encoder.metrics import (
    DEFAULT_MEASURES,
    Qrels,
    evaluate_run,
    latency_percentiles,
    sparsity_stats,
    time_interleaved,
)
from sparsedoc.encoder.protocols import DocumentEncoder, QueryEncoder
from sparsedoc.encoder.sparse_vector import SparseVector
from sparsedoc.plugin.base import Backend, SearchResult
from sparsedoc.plugin.fusion import Fusion

from .index_build import SmoothingPlan, build_record, claim_index, smoothed_vectors
from .pipeline import IngestReport, index_encoded
from .readers import BeirDataset, Query
from .vectors_file import read_encoded
from .workspace import Workspace

BM25, SPARSE, HYBRID = "BM25", "inference-free sparse", "hybrid"
METHODS = (BM25, SPARSE, HYBRID)

Search = Callable[[Query], SearchResult]
WARMUP_QUERIES = 300
"""Untimed queries per method before timing: a JVM alternating BM25 and sparse searches (hybrid on
embedded Lucene) needs a few hundred to compile its hot paths on a busy machine."""


@dataclass(frozen=True)
class MethodResult:
    """Quality and latency of one retrieval method on one query set."""

    name: str
    metrics: dict[str, float]
    latency: dict[str, float]
    latency_ratio_to_bm25: dict[str, float | None]
    run: dict[str, dict[str, float]] = field(repr=False, compare=False)

    def summary(self) -> dict[str, Any]:
        """The result without the run (JSON-friendly)."""
        data = asdict(self)
        data.pop("run")
        return data


@dataclass(frozen=True)
class EvaluationReport:
    """The outcome of ``evaluate_beir`` on one dataset."""

    dataset: str
    split: str
    queries: int
    model: str
    backend: str
    fusion: str
    methods: tuple[MethodResult, ...]
    document_sparsity: dict[str, float]
    truncated_documents: int
    windowed_documents: int
    smoothing: str
    machine: dict[str, Any]
    date: str

    def method(self, name: str) -> MethodResult:
        """The result of the method called ``name`` (one of ``METHODS``)."""
        return next(m for m in self.methods if m.name == name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (runs left out)."""
        data = {key: value for key, value in self.__dict__.items() if key != "methods"}
        return {**data, "methods": [m.summary() for m in self.methods]}


def compare_methods(
    backend: Backend,
    query_encoder: QueryEncoder,
    queries: Sequence[Query],
    qrels: Qrels,
    *,
    k: int = 100,
    fusion: Fusion | None = None,
    measures: Sequence[str] = DEFAULT_MEASURES,
    show_progress: bool = False,
) -> tuple[MethodResult, ...]:
    """Run BM25, inference-free sparse and hybrid search for every query, interleaved, and score them.

    ``fusion`` without a sparse weight gets the index's default (``Backend.hybrid_fusion``).
    """
    fusion = backend.hybrid_fusion(fusion)

    def encode(query: Query) -> SparseVector:
        return query_encoder.encode_query([query.text])[0]

    searches: dict[str, Search] = {
        BM25: lambda q: backend.search_bm25(q.text, k),
        SPARSE: lambda q: backend.search_sparse(encode(q), k),
        HYBRID: lambda q: backend.search_hybrid(q.text, encode(q), k, fusion),
    }
    runs, seconds = _interleaved(searches, queries, show_progress)
    latency = {name: latency_percentiles(seconds[name]) for name in searches}
    return tuple(
        MethodResult(name, evaluate_run(runs[name], qrels, measures), latency[name],
                     {stat: (value / latency[BM25][stat] if latency[BM25][stat] else None)
                      for stat, value in latency[name].items()},
                     runs[name])
        for name in METHODS
    )


def prepare_dataset(
    dataset: BeirDataset,
    backend: Backend,
    workspace: Workspace,
    *,
    model_dir: Path,
    document_encoder: Callable[[], DocumentEncoder],
    encoder_settings: Mapping[str, Any],
    idf_path: Path | None = None,
    smoothing: SmoothingPlan | None = None,
    fresh: bool = False,
    show_progress: bool = False,
) -> tuple[IdfQueryEncoder, IngestReport, Path]:
    """Make ``backend`` hold ``dataset`` encoded by ``model_dir``; return the query encoder, encoding counts
    and the vectors file that was indexed.

    Everything slow is cached in ``workspace`` and reused by the next run: the IDF table
    (unless ``idf_path`` or the model's own ``idf.json`` is used), the encoded vectors
    (``document_encoder`` is only called if some are missing), with ``smoothing`` the dense
    embeddings and smoothed vectors, and the index (only missing documents are written). ``fresh``
    starts over.

    Raises:
        ConfigError: the workspace holds vectors from another model or settings.
        IndexingError: the backend refused documents.
        InputError: a dataset file is malformed.
    """
    if fresh:
        workspace.clear()
    workspace.claim(model_dir, dict(encoder_settings))
    with (dataset.root / "corpus.jsonl").open("rb") as handle:
        total = sum(1 for line in handle if line.strip())
    idf = load_idf(workspace.query_idf_path(dataset.documents, model_dir, idf_path))
    encoding = workspace.ensure_vectors(dataset.documents, document_encoder, total=total, show_progress=show_progress)
    source = workspace.vectors_path
    if smoothing is not None and smoothing.smoothing.enabled:
        source = workspace.smoothed_path(smoothing.smoothing)
        smoothed_vectors(workspace.vectors_path, source, smoothing, show_progress=show_progress)
    claim_index(backend, build_record(smoothing, model=model_dir.name), overwrite=fresh, name=dataset.name)
    index_encoded(source, backend, total=total, show_progress=show_progress)
    return IdfQueryEncoder(load_tokenizer(model_dir), idf), encoding, source


def evaluate_beir(
    dataset: BeirDataset,
    backend: Backend,
    workspace: Workspace,
    *,
    model_dir: Path,
    document_encoder: Callable[[], DocumentEncoder],
    encoder_settings: Mapping[str, Any],
    idf_path: Path | None = None,
    split: str = "test",
    k: int = 100,
    fusion: Fusion | None = None,
    smoothing: SmoothingPlan | None = None,
    fresh: bool = False,
    backend_label: str = "",
    show_progress: bool = False,
) -> EvaluationReport:
    """Evaluate ``model_dir``'s documents on ``dataset``'s judged ``split`` queries: BM25, sparse and hybrid.

    The dataset is prepared (encoded, indexed, cached) by ``prepare_dataset``, whose errors
    this raises too. ``fusion`` without a sparse weight (``Fusion()``, the default) gets the
    default for the index as built: 0.5 with ``smoothing``, 0.4 without (``Backend.hybrid_fusion``).
    """
    query_encoder, encoding, indexed = prepare_dataset(
        dataset, backend, workspace, model_dir=model_dir, document_encoder=document_encoder,
        encoder_settings=encoder_settings, idf_path=idf_path, smoothing=smoothing, fresh=fresh,
        show_progress=show_progress)
    fusion = backend.hybrid_fusion(fusion)
    queries, qrels = dataset.judged_queries(split)
    methods = compare_methods(backend, query_encoder, queries, qrels, k=k, fusion=fusion, show_progress=show_progress)
    stats = sparsity_stats((d.vector for d in read_encoded(indexed)),
                           query_encoder.encode_query([q.text for q in queries]))
    return EvaluationReport(
        dataset=dataset.name, split=split, queries=len(queries), model=str(model_dir),
        backend=backend_label or type(backend).__name__, fusion=fusion.describe(), methods=methods,
        document_sparsity=dict(stats.__dict__), truncated_documents=encoding.truncated,
        windowed_documents=encoding.windowed, smoothing=smoothing.smoothing.describe() if smoothing else "none",
        machine={"platform": platform.platform(), "cpus": _cpu_count(), "python": platform.python_version()},
        date=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def mean_over_datasets(reports: Sequence[EvaluationReport]) -> dict[str, dict[str, dict[str, float]]]:
    """Per method: the arithmetic mean of each metric and the geometric mean of each latency ratio."""
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for name in METHODS:
        results = [report.method(name) for report in reports]
        metrics = {key: sum(r.metrics[key] for r in results) / len(results) for key in results[0].metrics}
        ratios = {key: _geometric_mean([r.latency_ratio_to_bm25[key] for r in results])
                  for key in results[0].latency_ratio_to_bm25}
        summary[name] = {"metrics": metrics, "latency_ratio_to_bm25": ratios}
    return summary


def _geometric_mean(values: Sequence[float | None]) -> float:
    present = [v for v in values if v]
    return math.exp(sum(math.log(v) for v in present) / len(present)) if present else math.nan


def _interleaved(
    searches: Mapping[str, Search], queries: Sequence[Query], show_progress: bool
) -> tuple[dict[str, dict[str, dict[str, float]]], dict[str, list[float]]]:
    from tqdm.auto import tqdm

    by_index = {name: (lambda i, search=search: search(queries[i])) for name, search in searches.items()}
    rounds = tqdm(range(len(queries)), disable=not show_progress, unit="query", desc="searching")
    timed = time_interleaved(by_index, rounds, warmup=range(min(len(queries), WARMUP_QUERIES)))
    runs = {
        name: {q.query_id: result.scores() for q, (_, result) in zip(queries, calls, strict=True)}
        for name, calls in timed.items()
    }
    return runs, {name: [seconds for seconds, _ in calls] for name, calls in timed.items()}


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
