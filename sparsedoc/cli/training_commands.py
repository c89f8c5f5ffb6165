"""`sparsedoc train | adapt | data pseudo-queries | teachers score`: the training harness."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import click

from sparsedoc.ingest.readers import read_documents

from .backends import open_backend
from .environment import jvm_settings
from .options import INPUT_FILE, MODEL_DIR

if TYPE_CHECKING:
    from sparsedoc.ingest.adaptation import TeacherSpec
    from sparsedoc.ingest.smoothing import Smoothing


@click.command("train")
@click.argument("config", type=INPUT_FILE)
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def train_command(config: Path, no_progress: bool) -> None:
    """Train an inference-free document encoder from a YAML CONFIG; print the model directory.

    The output is a Hugging Face fill-mask checkpoint with its tokenizer and idf.json, loadable
    by `sparsedoc index --model` and `sparsedoc eval --model`. A stopped run resumes from its last
    checkpoint when started again with the same config.
    """
    from sparsedoc.encoder.training import train

    click.echo(train(config, progress=not no_progress))


@click.group("data")
def data() -> None:
    """Training data for corpora without labelled queries."""


@data.command("pseudo-queries")
@click.argument("corpus", type=INPUT_FILE)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Training JSONL to write.")
@click.option("--index", "index_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Lucene index of the same corpus (from `sparsedoc index`), for BM25 hard negatives.")
@click.option("--negatives", default=3, show_default=True, help="Hard negatives per query.")
@click.option("--depth", default=30, show_default=True, help="BM25 depth to draw negatives from.")
@click.option("--per-document", default=1, show_default=True, help="Pseudo-queries per document.")
@click.option("--seed", default=0, show_default=True)
def pseudo_queries(corpus: Path, out: Path, index_dir: Path, negatives: int, depth: int, per_document: int,
                   seed: int) -> None:
    """Generate pseudo-queries from CORPUS documents and mine BM25 hard negatives.

    Each query is a sentence, a word span or sampled keywords cut out of its document; the
    positive is the document without that part and without its title, so the pair is not
    trivially solved by exact overlap. Writes {"query", "pos", "negs"} JSONL.
    """
    from sparsedoc.encoder.training import generate_pseudo_queries, mine_hard_negatives, write_training_file

    documents = list(read_documents(corpus))
    queries = generate_pseudo_queries(documents, seed=seed, per_document=per_document)
    with open_backend("lucene", index_dir) as backend:
        examples = mine_hard_negatives(queries, backend, {d.doc_id: d.content for d in documents},
                                       num_negatives=negatives, depth=depth)
    write_training_file(examples, out)
    click.echo(f"wrote {out}: {len(examples)} examples from {len(documents)} documents")


@click.group("teachers")
def teachers() -> None:
    """Teacher models for ensemble distillation."""


@teachers.command("score")
@click.argument("train_file", type=INPUT_FILE)
@click.option("--teacher", "specs", multiple=True, required=True,
              help="KIND:NAME:MODEL_DIR, KIND dense (sentence-transformers) or sparse (SPLADE); repeatable.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Scored JSONL to write.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), help="Cache of teacher scores.")
def score(train_file: Path, specs: tuple[str, ...], out: Path, cache_dir: Path | None) -> None:
    """Add teacher scores to TRAIN_FILE ({"query","pos","negs"} -> {"query","docs","scores"})."""
    from sparsedoc.encoder.training import make_teacher, read_training_file, score_with_teachers, write_training_file

    built = []
    for spec in specs:
        kind, name, model_dir = _split_teacher(spec)
        built.append(make_teacher(kind, name, model_dir))
    examples = score_with_teachers(read_training_file(train_file), built, cache_dir=cache_dir)
    write_training_file(examples, out)
    click.echo(f"wrote {out}: {len(examples)} examples scored by {', '.join(t.name for t in built)}")


def _split_teacher(spec: str) -> tuple[str, str, Path | None]:
    """``KIND:NAME:MODEL_DIR`` (or ``KIND:NAME`` for a kind without a model) as its three parts."""
    from sparsedoc.encoder.training.config import MODEL_FREE_KINDS

    parts = spec.split(":", 2)
    if len(parts) < 2 or (parts[0] not in MODEL_FREE_KINDS and len(parts) != 3):
        raise click.BadParameter(f"expected KIND:NAME:MODEL_DIR, bm25:NAME or label:NAME, got {spec!r}",
                                 param_hint="--teacher")
    return parts[0], parts[1], Path(parts[2]) if len(parts) == 3 else None


def _teacher_specs(specs: tuple[str, ...]) -> list[TeacherSpec]:
    from sparsedoc.encoder.assets import fetch_asset
    from sparsedoc.ingest.adaptation import TeacherSpec

    if not specs:
        return [TeacherSpec("dense", "dense", fetch_asset("all-MiniLM-L6-v2")),
                TeacherSpec("sparse", "sparse", fetch_asset("splade-tiny")), TeacherSpec("bm25", "bm25")]
    built: list[TeacherSpec] = []
    for spec in specs:
        kind, name, model_dir = _split_teacher(spec)
        built.append(TeacherSpec(kind, name, model_dir))
    return built


@click.command("adapt")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              help="Work folder, reused by the next run (default: runs/adapt-<name>); the model goes to "
                   "WORKDIR/model.")
@click.option("--model", "base_model", type=MODEL_DIR,
              help="Fill-mask checkpoint to start from (default: SPLADE-tiny).")
@click.option("--teacher", "specs", multiple=True,
              help="KIND:NAME:MODEL_DIR (dense, sparse), bm25:NAME or label:NAME (the pseudo-query's source "
                   "document 1, the negatives 0); repeatable. Default: MiniLM dense + SPLADE-tiny sparse + BM25.")
@click.option("--steps", default=200, show_default=True, help="Training steps (about 2 s each for SPLADE-tiny on CPU).")
@click.option("--max-queries", default=1000, show_default=True, type=click.IntRange(min=1),
              help="Pseudo-queries to train on (a seeded sample; bounds the cost on large corpora).")
@click.option("--dev-queries", default=100, show_default=True, type=click.IntRange(min=1),
              help="Held-out pseudo-queries that score the start and every checkpoint (the best is kept).")
@click.option("--dev-documents", default=1000, show_default=True, type=click.IntRange(min=1),
              help="Documents in the held-out dev set (its sources, BM25 distractors, a sample of the rest).")
@click.option("--neighbours", "smoothing_choice", type=click.Choice(["auto", "off"]), default="auto",
              show_default=True,
              help="auto: choose the dense-neighbour smoothing on held-out pseudo-queries and record it with the "
                   "model (MODEL/smoothing.json); off: no smoothing.")
@click.option("--neighbour-model", type=MODEL_DIR, default=None,
              help="Dense model for smoothing [default: all-MiniLM-L6-v2 from PyPI].")
@click.option("--train-split", help="Also train on the labelled queries of qrels/<SPLIT>.tsv (e.g. train).")
@click.option("--split", default="test", show_default=True, help="qrels split for the before/after evaluation.")
@click.option("--max-length", default=256, show_default=True, help="Document token window (training and eval).")
@click.option("--seed", default=13, show_default=True)
@click.option("--no-eval", is_flag=True, help="Skip the before/after evaluation.")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
def adapt_command(source: Path, workdir: Path | None, base_model: Path | None, specs: tuple[str, ...], steps: int,
                  max_queries: int, dev_queries: int, dev_documents: int, smoothing_choice: str,
                  neighbour_model: Path | None, train_split: str | None, split: str, max_length: int, seed: int,
                  no_eval: bool, no_progress: bool) -> None:
    """Adapt a model to SOURCE (corpus JSONL or BEIR folder) without labels; print the model directory.

    Pseudo-queries from the documents + BM25 negatives -> teacher scores (cached) -> training ->
    WORKDIR/model (fill-mask checkpoint, tokenizer, idf.json of the corpus), loadable by `index`, `eval`
    and `export-onnx`. The start and every checkpoint are scored on held-out pseudo-queries and the
    best is kept (it may be the start; WORKDIR/best.json says which). Then the dense-neighbour smoothing
    is chosen the same way and recorded with the model. Every stage resumes: run the same command
    again after an interruption.
    When SOURCE is a BEIR folder with qrels/<split>.tsv, the start model and the adapted one are
    evaluated against BM25 on embedded Lucene.
    """
    from sparsedoc.encoder.assets import fetch_asset
    from sparsedoc.encoder.training.best_model import BestModel
    from sparsedoc.ingest.adaptation import adapt, body_documents, labelled_examples
    from sparsedoc.ingest.heldout_dev import DEV_NAME
    from sparsedoc.ingest.readers import BeirDataset, read_qrels, read_queries
    from sparsedoc.ingest.smoothing_selection import MODEL_SMOOTHING_FILE, choose_corpus_smoothing
    from sparsedoc.ingest.workspace import Workspace
    from sparsedoc.plugin.lucene.backend import LuceneBackend

    from .options import DEFAULT_ENCODER_OPTIONS, build_document_encoder, dense_model_dir, encoder_settings
    from .tables import format_table

    dataset = BeirDataset.open(source) if source.is_dir() else None
    if dataset is not None and train_split == split:
        raise click.BadParameter(f"the training split must differ from the evaluation split {split!r}",
                                 param_hint="--train-split")
    out = workdir or Path("runs") / f"adapt-{dataset.name if dataset else source.stem}"
    base_model = base_model or fetch_asset("splade-tiny")
    documents = list(dataset.documents() if dataset else read_documents(source))
    bm25 = LuceneBackend(out / "bm25-bodies", jvm=jvm_settings())
    try:
        if not (out / "bm25-bodies" / ".complete").is_file():
            bm25.create_index(overwrite=True)
            bm25.index(body_documents(documents))
            (out / "bm25-bodies" / ".complete").write_text("ok\n")
        labelled = []
        if dataset is not None and train_split:
            qrels = read_qrels(dataset.root / "qrels" / f"{train_split}.tsv")
            queries = [q for q in read_queries(dataset.root / "queries.jsonl") if q.query_id in qrels]
            labelled = labelled_examples(queries, qrels, {d.doc_id: d for d in documents}, bm25)
        model_dir = adapt(documents, bm25, base_model=base_model, teachers=_teacher_specs(specs), out=out, steps=steps,
                          seed=seed, max_queries=max_queries, labelled=labelled, dev_queries=dev_queries,
                          dev_documents=dev_documents, progress=not no_progress,
                          overrides={"student": {"max_length": max_length}})
    finally:
        bm25.close()
    click.echo(BestModel(out, DEV_NAME).summary(), err=True)
    options = {**DEFAULT_ENCODER_OPTIONS, "max_length": max_length}
    dense = dense_model_dir(neighbour_model)
    if smoothing_choice == "auto":
        choice = choose_corpus_smoothing(documents, Workspace(out / "eval-after"), model_dir,
                                         lambda: build_document_encoder(model_dir, options), encoder_settings(options),
                                         dense, idf_path=model_dir / "idf.json",
                                         record=model_dir / MODEL_SMOOTHING_FILE, seed=seed,
                                         show_progress=not no_progress)
        click.echo(format_table(["smoothing", "held-out MRR@10", "tokens/doc", "chosen"], choice.table()), err=True)
    elif (model_dir / MODEL_SMOOTHING_FILE).is_file():
        (model_dir / MODEL_SMOOTHING_FILE).unlink()
    if dataset is not None and not no_eval and (dataset.root / "qrels" / f"{split}.tsv").is_file():
        _before_after(dataset.root, base_model, model_dir, out, split, options, dense)
    click.echo(model_dir)


def _before_after(root: Path, base_model: Path, model_dir: Path, out: Path, split: str, options: dict,
                  dense: Path) -> None:
    """Evaluate the start and the adapted model (with its smoothing) on ``root``'s judged ``split``."""
    from sparsedoc.ingest.evaluation import BM25, HYBRID, SPARSE, evaluate_beir
    from sparsedoc.ingest.index_build import SmoothingPlan
    from sparsedoc.ingest.readers import BeirDataset
    from sparsedoc.ingest.smoothing_selection import model_smoothing
    from sparsedoc.ingest.workspace import Workspace

    from .backends import open_backend
    from .options import build_document_encoder, encoder_settings
    from .tables import format_table

    dataset = BeirDataset.open(root)
    smoothing = model_smoothing(model_dir)
    runs: list[tuple[str, Path, Path, Smoothing | None]] = [
        ("before", base_model, out / "idf.json", None), ("after", model_dir, model_dir / "idf.json", None)]
    if smoothing is not None and smoothing.enabled:
        runs.append((f"after, smoothed ({smoothing.describe()})", model_dir, model_dir / "idf.json", smoothing))
    rows: list[list[object]] = []
    for label, model, idf, smooth in runs:
        click.echo(f"--- {label}: {model}", err=True)
        workspace = Workspace(out / ("eval-before" if label == "before" else "eval-after"))
        plan = SmoothingPlan(smooth, dense, workspace.embeddings_dir(dense)) if smooth else None
        with open_backend("lucene", workspace.root / workspace.index_name(smooth)) as engine:
            report = evaluate_beir(dataset, engine, workspace, model_dir=model,
                                   document_encoder=partial(build_document_encoder, model, options),
                                   encoder_settings=encoder_settings(options), idf_path=idf, split=split,
                                   smoothing=plan, backend_label="lucene", show_progress=True)
        if not rows:
            rows.append(["BM25", *_metrics(report.method(BM25).metrics), "-"])
        flops = f"{report.document_sparsity['flops']:.2f}"
        rows.append([f"inference-free, {label}", *_metrics(report.method(SPARSE).metrics), flops])
        rows.append([f"hybrid, {label}", *_metrics(report.method(HYBRID).metrics), "-"])
    click.echo(format_table(["method", "nDCG@10", "R@100", "FLOPS"], rows))


def _metrics(metrics: dict[str, float]) -> list[float]:
    return [metrics["nDCG@10"], metrics["R@100"]]


COMMANDS = [train_command, adapt_command, data, teachers]
