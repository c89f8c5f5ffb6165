"""`sparsedoc train | data pseudo-queries | teachers score`: the training harness."""

from __future__ import annotations

from pathlib import Path

import click

from sparsedoc.ingest.readers import read_documents

from .backends import open_backend
from .options import INPUT_FILE


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
        parts = spec.split(":", 2)
        if len(parts) != 3:
            raise click.BadParameter(f"expected KIND:NAME:MODEL_DIR, got {spec!r}", param_hint="--teacher")
        built.append(make_teacher(parts[0], parts[1], parts[2]))
    examples = score_with_teachers(read_training_file(train_file), built, cache_dir=cache_dir)
    write_training_file(examples, out)
    click.echo(f"wrote {out}: {len(examples)} examples scored by {', '.join(t.name for t in built)}")


COMMANDS = [train_command, data, teachers]
