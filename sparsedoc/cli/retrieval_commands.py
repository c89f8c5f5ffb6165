"""`sparsedoc idf | encode | index | search`: the retrieval workflow (evaluation is in ``eval_commands``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from sparsedoc.encoder.beir import Document
from sparsedoc.encoder.errors import InputError, InterruptedRun
from sparsedoc.encoder.idf import compute_idf, save_idf
from sparsedoc.encoder.idf_query_encoder import IdfQueryEncoder
from sparsedoc.encoder.loading import load_tokenizer
from sparsedoc.ingest.index_build import SmoothingPlan, build_record, claim_index, smoothed_vectors
from sparsedoc.ingest.pipeline import encode_to_file, index_encoded
from sparsedoc.ingest.readers import read_documents
from sparsedoc.ingest.vectors_file import check_searchable
from sparsedoc.ingest.writer_lock import refuse_if_locked, writer_lock
from sparsedoc.plugin.fusion import Fusion

from .backends import (
    ANALYZER,
    Connection,
    SearchSettings,
    approximate_option,
    backend_options,
    open_backend,
    require_engine,
    search_options,
)
from .options import (
    INPUT_FILE,
    OUTPUT_FILE,
    build_document_encoder,
    corpus_field_options,
    encoder_options,
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


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


@contextmanager
def _resumable_encoding(vectors: Path) -> Iterator[None]:
    """Ctrl-C while encoding: say how many documents the vectors file holds and how to resume."""
    try:
        yield
    except KeyboardInterrupt as err:
        held = _count_lines(vectors) if vectors.is_file() else 0
        raise InterruptedRun(f"{vectors} holds {held} encoded documents; rerun the same command to resume "
                             "(documents already encoded are skipped)") from err


def _corpus_size(path: Path) -> int:
    """The number of non-blank lines of ``path``; an empty input is refused before anything is written."""
    if not (count := _count_lines(path)):
        raise InputError("no documents", path=path)
    return count


def _hold_writer_lock(path: Path) -> None:
    """Hold ``path``'s writer lock until the command ends: a second run fails at once, naming this one."""
    click.get_current_context().with_resource(writer_lock(path))


def _documents(corpus: Path, id_field: str, text_field: str, title_field: str) -> Iterator[Document]:
    return read_documents(corpus, id_field=id_field, text_field=text_field, title_field=title_field or None)


@click.command("idf")
@click.argument("corpus", type=INPUT_FILE)
@model_option("Model (or tokenizer) directory whose tokenizer splits the corpus.")
@out_file_option("idf.json to write.")
@corpus_field_options
def idf_command(corpus: Path, model: Path, out: Path, id_field: str, text_field: str, title_field: str) -> None:
    """Compute an IDF table (idf.json) over CORPUS with the model's tokenizer."""
    from tqdm.auto import tqdm

    total = _corpus_size(corpus)
    tokenizer = load_tokenizer(model)
    documents = tqdm(_documents(corpus, id_field, text_field, title_field), unit="doc", desc="idf", total=total)
    table = compute_idf((d.content for d in documents), tokenizer)
    if not table:
        raise InputError(f"no tokens in {total} documents (check --text-field/--title-field)", path=corpus)
    save_idf(table, out)
    click.echo(f"wrote {out}: {len(table)} tokens")


@click.command("encode")
@click.argument("corpus", type=INPUT_FILE)
@model_option()
@out_file_option("vectors JSONL to write.")
@encoder_options
@smoothing_options
@corpus_field_options
def encode_command(corpus: Path, model: Path, out: Path, id_field: str, text_field: str, title_field: str,
                   **options: Any) -> None:
    """Encode CORPUS into a vectors JSONL file (resumes if interrupted; one run at a time per file).

    With --neighbours K, OUT holds the smoothed vectors; the unsmoothed ones are kept in
    <OUT>.unsmoothed.jsonl and the dense embeddings in <OUT>.dense-<model>/ (both resumable).
    """
    total = _corpus_size(corpus)
    _hold_writer_lock(out)
    plan = _smoothing_plan(options, out, model)
    raw = out.with_name(out.name + ".unsmoothed.jsonl") if plan else out
    encoder = build_document_encoder(model, options)
    with _resumable_encoding(raw):
        report = encode_to_file(_documents(corpus, id_field, text_field, title_field), encoder, raw,
                                total=total, show_progress=True)
    click.echo(f"wrote {raw}: {report.indexed} encoded, {report.skipped} already there, "
               f"{report.empty} empty, {report.truncated} truncated, {report.windowed} windowed")
    if plan:
        _smooth(raw, out, plan)


def _smoothing_plan(options: dict[str, Any], vectors: Path, model: Path | None) -> SmoothingPlan | None:
    """The smoothing of ``options`` (popped from it), caching embeddings beside ``vectors``."""
    smoothing = pop_smoothing(options, model)
    if isinstance(smoothing, str):
        raise click.UsageError("--neighbours auto is for eval, quickstart and adapt; give a number here")
    return smoothing_plan(smoothing, options.pop("neighbour_model"),
                          lambda dense: vectors.with_name(f"{vectors.name}.dense-{dense.name}"))


def _smooth(raw: Path, out: Path, plan: SmoothingPlan) -> None:
    report = smoothed_vectors(raw, out, plan, show_progress=True)
    click.echo(f"smoothed {report.smoothed} ({report.kept} already there; {plan.smoothing.describe()}; postings "
               f"x{report.growth:.2f}) into {out}", err=True)


@click.command("index")
@click.argument("source", type=INPUT_FILE)
@click.option("--index", "index_name", required=True, help="Index directory (lucene) or name (opensearch).")
@model_option("Encode SOURCE (a corpus) with this model first.", required=False)
@click.option("--vectors", type=OUTPUT_FILE,
              help="Where encoded vectors are cached (default: next to the index as <index>.vectors.jsonl).")
@overwrite_option("Delete an existing index of that name first (all its documents) and, with --model, the "
                  "vectors cache it encodes into.")
@encoder_options
@smoothing_options
@corpus_field_options
@backend_options
@approximate_option
@click.option("--reorder", is_flag=True,
              help="Lucene: then merge into one segment and renumber documents by BP graph bisection "
                   "(same rankings; downloads lucene-misc once).")
def index_command(source: Path, index_name: str, model: Path | None, vectors: Path | None, overwrite: bool,
                  id_field: str, text_field: str, title_field: str, backend: str, connection: Connection,
                  approximate: str, reorder: bool, **options: Any) -> None:
    """Index SOURCE into a backend; resumable (ids already indexed are skipped).

    With --model, SOURCE is a corpus JSONL that is encoded first (into --vectors, also
    resumable); without it, SOURCE is a vectors file written by `sparsedoc encode`. With
    --model, one run at a time holds the vectors file (and so the index fed from it) until it ends.
    With --neighbours K the vectors are smoothed first (dense embeddings and smoothed vectors are
    cached beside the vectors, and the index records the smoothing).
    """
    require_engine(backend)
    plan = _smoothing_plan(options, vectors or Path(f"{index_name.rstrip('/')}.vectors.jsonl"), model)
    if model:
        total = _corpus_size(source)
        vectors = vectors or Path(f"{index_name.rstrip('/')}.vectors.jsonl")
        _hold_writer_lock(vectors)
        if overwrite:
            vectors.unlink(missing_ok=True)
        encoder = build_document_encoder(model, options)
        with _resumable_encoding(vectors):
            report = encode_to_file(_documents(source, id_field, text_field, title_field), encoder, vectors,
                                    total=total, show_progress=True)
        click.echo(f"encoded {report.indexed} ({report.skipped} cached, {report.empty} empty, "
                   f"{report.truncated} truncated, {report.windowed} windowed) into {vectors}", err=True)
    else:
        vectors = source
        refuse_if_locked(vectors)
        check_searchable(vectors)
    if reorder and backend != "lucene":
        raise click.UsageError("--reorder is for the lucene backend")
    if plan:
        smoothed = vectors.with_name(f"{vectors.name}.smoothed-{plan.smoothing.key()}.jsonl")
        _smooth(vectors, smoothed, plan)
        vectors = smoothed
    with open_backend(backend, index_name, connection, SearchSettings(approximate=approximate),
                      reordering=reorder) as engine:
        claim_index(engine, build_record(plan, model=model.name if model else None), overwrite=overwrite,
                    name=index_name)
        report = index_encoded(vectors, engine, total=_count_lines(vectors), show_progress=True)
        click.echo(f"indexed {report.indexed}, skipped {report.skipped} already present; {engine.count()} in index")
        if reorder:
            from sparsedoc.plugin.lucene.backend import LuceneBackend
            from sparsedoc.plugin.lucene.reorder import Reordering

            assert isinstance(engine, LuceneBackend)  # --reorder with another backend was refused above
            seconds = engine.force_merge(reorder=Reordering())
            click.echo(f"merged into one segment and reordered in {seconds:.1f} s", err=True)


@click.command("search")
@click.argument("query")
@click.option("--index", "index_name", required=True, help="Index directory (lucene) or name (opensearch).")
@model_option("Model (or tokenizer) directory: its tokenizer splits the query for sparse search.", required=False)
@click.option("--idf", "idf_path", type=INPUT_FILE, help="idf.json weighting the query tokens for sparse search.")
@click.option("--bm25", is_flag=True, help="Search with BM25 instead of the sparse vectors.")
@click.option("--hybrid", is_flag=True, help="Fuse BM25 and sparse search (min_max).")
@sparse_weight_option("With --hybrid: the sparse weight (BM25 gets 1 - it).")
@top_k_option(10, "Number of hits.")
@backend_options
@search_options(analyzer=True)
def search_command(query: str, index_name: str, model: Path | None, idf_path: Path | None, bm25: bool,
                   hybrid: bool, sparse_weight: float | None, top_k: int, backend: str, connection: Connection,
                   search: SearchSettings) -> None:
    """Search an index for QUERY: inference-free (tokenizer + IDF), BM25, or both fused (--hybrid).

    --hybrid prints the fusion it used; its default sparse weight depends on how the index was built.
    """
    analyzer = search.query_mode == ANALYZER
    if bm25 and hybrid:
        raise click.UsageError("choose one of --bm25 and --hybrid")
    if sparse_weight is not None and not hybrid:
        raise click.UsageError("--sparse-weight is for --hybrid")
    if analyzer and (bm25 or hybrid):
        raise click.UsageError("--query-mode analyzer is a sparse search; drop --bm25/--hybrid")
    if not (bm25 or analyzer) and not (model and idf_path):
        raise click.UsageError("sparse and hybrid search need --model and --idf (or pass --bm25)")
    with open_backend(backend, index_name, connection, search) as engine:
        smoothing = engine.build_record().get("smoothing")
        if smoothing:
            click.echo(f"index built with dense-neighbour smoothing {smoothing}", err=True)
        if bm25:
            hits = engine.search_bm25(query, top_k).hits
        elif analyzer:
            from sparsedoc.plugin.opensearch.backend import OpenSearchBackend

            assert isinstance(engine, OpenSearchBackend)  # open_backend refuses analyzer mode on lucene
            hits = engine.search_analyzer(query, top_k).hits
        else:
            assert model is not None and idf_path is not None  # checked above
            vector = IdfQueryEncoder.from_files(model, idf_path).encode_query([query])[0]
            click.echo(f"query tokens: {dict(sorted(vector.items(), key=lambda kv: -kv[1]))}", err=True)
            if hybrid:
                fusion = engine.hybrid_fusion(Fusion(sparse_weight=sparse_weight))
                click.echo(f"hybrid: {fusion.describe()}", err=True)
                hits = engine.search_hybrid(query, vector, top_k, fusion).hits
            else:
                hits = engine.search_sparse(vector, top_k).hits
    click.echo(format_table(["rank", "doc_id", "score"], [[h.rank, h.doc_id, h.score] for h in hits]))


COMMANDS = [idf_command, encode_command, index_command, search_command]
