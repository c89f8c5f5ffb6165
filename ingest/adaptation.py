"""Training data for domain adaptation without labels: pseudo-queries and BM25 negatives from a corpus.

The caller passes a backend (any ``sparsedoc.plugin.base.Backend``) indexed with ``body_documents``
(each document's text without a leading copy of its title, so a title-echo query is not trivially
solved); it is used only through ``search_bm25``. Labelled queries (e.g. a collection's train split),
when there are some, become examples too: each judged positive with BM25 negatives that are not judged
relevant.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sparsedoc.encoder.beir import Document, Query
from sparsedoc.encoder.errors import ConfigError, InputError
from sparsedoc.encoder.sparse_vector import SparseVector
from sparsedoc.encoder.training.data import Bm25Searcher, TrainingExample, mine_hard_negatives
from sparsedoc.encoder.training.pseudo_queries import document_body, generate_pseudo_queries
from sparsedoc.plugin.base import EncodedDocument

from .heldout_dev import DEV_NAME, dev_config, write_heldout_dev


def body_documents(documents: Iterable[Document]) -> list[EncodedDocument]:
    """Documents as BM25-only index entries (empty vectors), text = body without the repeated title."""
    return [EncodedDocument(d.doc_id, document_body(d.text, d.title), SparseVector()) for d in documents]


def pseudo_query_examples(
    documents: Sequence[Document],
    bm25: Bm25Searcher,
    *,
    seed: int = 0,
    max_queries: int | None = None,
    negatives: int = 3,
    depth: int = 30,
) -> list[TrainingExample]:
    """One pseudo-query per document (a seeded sample of ``max_queries`` of them), with BM25 negatives.

    Args:
        documents: the corpus.
        bm25: a backend indexed with ``body_documents(documents)``.
        max_queries: keep this many (seeded sample; ``None``: all).
    """
    queries = generate_pseudo_queries(documents, seed=seed, per_document=1)
    if max_queries is not None and max_queries < len(queries):
        queries = random.Random(seed).sample(queries, max_queries)
    bodies = {d.doc_id: document_body(d.text, d.title) for d in documents}
    return mine_hard_negatives(queries, bm25, bodies, num_negatives=negatives, depth=depth)


def labelled_examples(
    queries: Sequence[Query],
    qrels: Mapping[str, Mapping[str, int]],
    documents: Mapping[str, Document],
    bm25: Bm25Searcher,
    *,
    negatives: int = 3,
    depth: int = 30,
) -> list[TrainingExample]:
    """One example per judged (query, positive) pair; negatives are BM25 hits not judged relevant.

    Raises:
        ConfigError: impossible ``negatives`` / ``depth``.
    """
    if not 1 <= negatives <= depth:
        raise ConfigError(f"need 1 <= negatives <= depth, got {negatives}, {depth}")
    examples = []
    for query in queries:
        judged = qrels.get(query.query_id, {})
        positives = [d for d, r in judged.items() if r > 0 and d in documents]
        if not positives:
            continue
        hits = bm25.search_bm25(query.text, depth + len(judged)).hits
        negative_ids = [str(h.doc_id) for h in hits if judged.get(str(h.doc_id), 0) <= 0
                        and str(h.doc_id) in documents][:negatives]
        if not negative_ids:
            continue
        for positive in positives:
            examples.append(TrainingExample(query.text, [documents[positive].content,
                                                         *(documents[d].content for d in negative_ids)]))
    return examples


@dataclass(frozen=True)
class TeacherSpec:
    """A teacher for ``adapt``: kind (``dense``, ``sparse``, ``bm25``, ``label``), name and model directory.

    BM25 and the label teacher have no model directory.
    """

    kind: str
    name: str
    model_dir: Path | None = None


def adapt(
    documents: Sequence[Document],
    bm25: Bm25Searcher,
    *,
    base_model: Path,
    teachers: Sequence[TeacherSpec],
    out: Path,
    steps: int = 200,
    seed: int = 13,
    max_queries: int | None = None,
    labelled: Sequence[TrainingExample] = (),
    dev_queries: int = 100,
    dev_documents: int = 2000,
    overrides: Mapping[str, object] | None = None,
    progress: bool = True,
) -> Path:
    """Adapt ``base_model`` to a corpus without labels; return the model directory (``out/model``).

    Steps, each skipped when its output exists (so a stopped run resumes where it stopped):
    corpus IDF (``out/idf.json``), a held-out dev set of ``dev_queries`` pseudo-queries over at most
    ``dev_documents`` documents (``out/dev``, ``heldout_dev``), pseudo-queries with BM25 negatives from
    the other documents (``out/train.jsonl``, plus any ``labelled`` examples), teacher scores (cached in
    ``out/teacher-cache``), training (checkpoints in ``out/checkpoints``) with the ``recipes/adapt.yaml``
    settings patched by ``overrides``. The start and every checkpoint are scored on the dev set and
    the best is returned, which may be the start (``out/best.json`` says which and why).

    Args:
        documents: the corpus.
        bm25: a backend indexed with ``body_documents(documents)`` (BM25 negatives).
        base_model: the fill-mask checkpoint to start from.
        teachers: the ensemble (min-max normalised per query, equal weights).
        out: work and output directory.
        steps: optimisation steps.
        max_queries: pseudo-queries to sample (``None``: one per document).
    """
    from sparsedoc.encoder.idf import compute_idf, save_idf
    from sparsedoc.encoder.loading import load_tokenizer
    from sparsedoc.encoder.training.config import load_config, merge_settings, recipe_path
    from sparsedoc.encoder.training.data import write_training_file
    from sparsedoc.encoder.training.trainer import train_from_config

    out = Path(out).resolve()  # the training config resolves relative paths against the recipe's folder
    out.mkdir(parents=True, exist_ok=True)
    idf_path = out / "idf.json"
    if not idf_path.is_file():
        idf = compute_idf((d.content for d in documents), load_tokenizer(base_model))
        save_idf(idf, idf_path.with_suffix(".partial"))
        idf_path.with_suffix(".partial").replace(idf_path)
    held_out = write_heldout_dev(documents, bm25, out / "dev", queries=dev_queries, documents_total=dev_documents,
                                 seed=seed)
    train_file = out / "train.jsonl"
    if not train_file.is_file():
        training_documents = [d for d in documents if d.doc_id not in held_out]
        examples = pseudo_query_examples(training_documents, bm25, seed=seed, max_queries=max_queries) + list(labelled)
        if not examples:
            raise InputError("no training example could be made (documents too short, or no BM25 negatives)")
        write_training_file(examples, train_file.with_suffix(".partial")).replace(train_file)
    settings = {
        "output_dir": str(out), "train_file": str(train_file), "steps": steps, "seed": seed,
        "student": {"model_dir": str(base_model)}, "idf": {"path": str(idf_path)},
        "cache_dir": str(out / "teacher-cache"), "checkpoint_every": max(1, min(50, steps // 4)),
        "eval_every": max(1, min(50, steps // 4)), "dev": [dev_config(out / "dev")], "keep_best": DEV_NAME,
        "loss": {"warmup_steps": max(1, steps // 2)},
        "teachers": [{"name": t.name, "kind": t.kind} | ({"model_dir": str(t.model_dir)} if t.model_dir else {})
                     for t in teachers],
    }
    config = load_config(recipe_path("adapt"), merge_settings(settings, dict(overrides or {})))
    return train_from_config(config, progress=progress)

