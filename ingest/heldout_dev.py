"""A held-out dev set made from the corpus itself, for ``adapt`` to judge checkpoints without labels.

``write_heldout_dev`` takes ``queries`` documents aside (seeded), cuts one sentence out of each
(the query; ``encoder.training.pseudo_queries``, strategy ``sentence``), and writes a BEIR-layout
folder: the cropped documents (each the only relevant document of its query), the BM25 top
``distractors`` of every query among the other documents (the hard cases), and a seeded sample of
the rest up to ``documents`` in all. Its cost is bounded by ``documents``, whatever the corpus size.
The held-out documents are returned so training can leave them out.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path

from sparsedoc.encoder.errors import ConfigError, InputError
from sparsedoc.encoder.training.data import Bm25Searcher
from sparsedoc.encoder.training.pseudo_queries import generate_pseudo_queries

from .readers import Document, read_qrels

DEV_NAME = "heldout"


def write_heldout_dev(
    documents: Sequence[Document],
    bm25: Bm25Searcher,
    folder: Path,
    *,
    queries: int = 100,
    documents_total: int = 2000,
    distractors: int = 20,
    seed: int = 0,
) -> set[str]:
    """Write the dev set into ``folder`` (``corpus.jsonl``, ``queries.jsonl``, ``qrels/dev.tsv``) once.

    At most a fifth of the documents that can make a query are held out.

    Returns:
        The ids of the held-out documents (read back from the folder when it already exists).

    Raises:
        ConfigError: non-positive sizes.
        InputError: no document has a sentence to make a query from.
    """
    if queries < 1 or documents_total < queries or distractors < 0:
        raise ConfigError(f"need 1 <= queries <= documents and distractors >= 0, got {queries}, {documents_total}, "
                          f"{distractors}")
    qrels_path = folder / "qrels" / "dev.tsv"
    if qrels_path.is_file():
        return {doc_id for judged in read_qrels(qrels_path).values() for doc_id in judged}
    made = generate_pseudo_queries(documents, seed=seed, strategies={"sentence": 1.0})
    if not made:
        raise InputError("no document has a sentence to make a held-out query from")
    held = random.Random(seed).sample(made, min(queries, max(1, len(made) // 5)))  # most documents stay for training
    held_ids = {q.doc_id for q in held}
    by_id = {d.doc_id: d for d in documents}
    chosen: dict[str, str] = {q.doc_id: q.positive for q in held}
    for query in held:
        for hit in bm25.search_bm25(query.query, distractors + 1).hits:
            if hit.doc_id not in chosen and hit.doc_id in by_id and len(chosen) < documents_total:
                chosen[hit.doc_id] = by_id[hit.doc_id].content
    rest = [d.doc_id for d in documents if d.doc_id not in chosen]
    for doc_id in random.Random(seed + 1).sample(rest, max(0, min(len(rest), documents_total - len(chosen)))):
        chosen[doc_id] = by_id[doc_id].content
    partial = folder.with_name(folder.name + ".partial")
    (partial / "qrels").mkdir(parents=True, exist_ok=True)
    with (partial / "corpus.jsonl").open("w", encoding="utf-8") as handle:
        for doc_id, text in chosen.items():
            handle.write(json.dumps({"_id": doc_id, "title": "", "text": text}, ensure_ascii=False) + "\n")
    with (partial / "queries.jsonl").open("w", encoding="utf-8") as handle:
        for query in held:
            handle.write(json.dumps({"_id": query.query_id, "text": query.query}, ensure_ascii=False) + "\n")
    (partial / "qrels" / "dev.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q.query_id}\t{q.doc_id}\t1\n" for q in held))
    partial.rename(folder)
    return held_ids


def dev_config(folder: Path) -> dict[str, object]:
    """The training config's ``dev`` entry for ``folder`` (queries weighted by the model's corpus IDF)."""
    return {"name": DEV_NAME, "idf": "model", "corpus": str(folder / "corpus.jsonl"),
            "queries": str(folder / "queries.jsonl"), "qrels": str(folder / "qrels" / "dev.tsv")}
