"""Choose a corpus' smoothing without labels, on held-out pseudo-queries.

A sample of documents each lose one sentence, which becomes a query whose only relevant document
is the rest of its source (``encoder.training.pseudo_queries``, strategy ``sentence``). The cropped
documents are re-encoded (sparse and dense), so neither their vectors nor their neighbours know
the sentence; then every candidate smoothing is applied to the whole corpus and scored by
MRR@10 of the source documents under exact inference-free search (tokenizer + corpus IDF). This
rewards what smoothing is for, finding a document through words it does not contain, and
punishes what it costs, a document diluted by its neighbours. The best candidate wins; ties go to
the earlier one in ``candidates`` (put "off" first).
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sparsedoc.encoder.errors import InputError
from sparsedoc.encoder.exact_search import exact_search
from sparsedoc.encoder.metrics import evaluate_run
from sparsedoc.encoder.protocols import DocumentEncoder, QueryEncoder
from sparsedoc.encoder.sparse_vector import SparseVector
from sparsedoc.encoder.training.pseudo_queries import generate_pseudo_queries

from .embeddings_store import Embed, Embeddings
from .neighbours import Neighbours, exact_neighbours
from .readers import Document
from .smoothing import Smoothing, smooth_vector
from .workspace import Workspace

logger = logging.getLogger(__name__)

CANDIDATES = (
    Smoothing(),
    Smoothing(neighbours=3, weight=0.5, variant="expansion"),
    Smoothing(neighbours=3, weight=1.0, variant="expansion"),
    Smoothing(neighbours=3, weight=1.0, variant="max"),
    Smoothing(neighbours=3, weight=1.0),
    Smoothing(neighbours=3, weight=2.0),
)
"""What ``choose_smoothing`` tries by default: off, then the variants of the ablation."""


@dataclass(frozen=True)
class CandidateScore:
    """One candidate's MRR@10 on the pseudo-queries and its mean tokens per document."""

    smoothing: Smoothing
    mrr_at_10: float
    mean_tokens: float


@dataclass(frozen=True)
class SmoothingChoice:
    """The chosen smoothing and every candidate's score."""

    chosen: Smoothing
    queries: int
    scores: list[CandidateScore] = field(default_factory=list)

    def table(self) -> list[list[object]]:
        """Rows for a table: setting, MRR@10, tokens per document, chosen mark."""
        return [[s.smoothing.describe(), round(s.mrr_at_10, 4), round(s.mean_tokens, 1),
                 "*" if s.smoothing == self.chosen else ""] for s in self.scores]


def choose_smoothing(
    documents: Sequence[Document],
    vectors: Mapping[str, SparseVector],
    embeddings: Embeddings,
    *,
    document_encoder: DocumentEncoder,
    embed: Embed,
    query_encoder: QueryEncoder,
    candidates: Sequence[Smoothing] = CANDIDATES,
    sample: int = 300,
    seed: int = 0,
) -> SmoothingChoice:
    """Score ``candidates`` on ``sample`` held-out pseudo-queries of the corpus; return the best.

    Args:
        documents: the corpus (pseudo-queries come from its texts).
        vectors: every document's unsmoothed sparse vector (a dict, or ``PackedVectors``: it is only read).
        embeddings: every document's dense embedding (``embed``'s output for its text).
        document_encoder / embed: re-encode the cropped documents (sparse / dense).
        query_encoder: the inference-free query side (tokenizer + corpus IDF).

    Raises:
        InputError: no document is long enough to make a pseudo-query.
    """
    queries = generate_pseudo_queries(documents, seed=seed, strategies={"sentence": 1.0})
    queries = [q for q in queries if q.doc_id in vectors]
    if not queries:
        raise InputError("no document has a sentence to make a pseudo-query from")
    if len(queries) > sample:
        queries = random.Random(seed).sample(queries, sample)
    ids = list(embeddings.ids)
    position = {doc_id: i for i, doc_id in enumerate(ids)}
    cropped: dict[str, SparseVector] = {}  # looked up before ``vectors``, which is not copied (it may be packed)
    dense = embeddings.vectors.copy()
    encoded = document_encoder.encode_document([q.positive for q in queries])
    for query, vector, row in zip(queries, encoded, embed([q.positive for q in queries]), strict=True):
        cropped[query.doc_id] = vector
        dense[position[query.doc_id]] = row
    most = max([c.neighbours for c in candidates if c.enabled] or [0])
    found = exact_neighbours(dense, dense, most, exclude=np.arange(len(ids))) if most else None
    encoded_queries = query_encoder.encode_query([q.query for q in queries])
    query_vectors = dict(zip((q.query_id for q in queries), encoded_queries, strict=True))
    qrels = {q.query_id: {q.doc_id: 1} for q in queries}  # each query's only relevant document is its source
    scores = []
    for candidate in candidates:
        smoothed = _smooth_all(ids, vectors, cropped, found, candidate)
        run = exact_search(query_vectors, smoothed, k=10)
        mean_tokens = float(np.mean([len(v) for v in smoothed.values()]))
        scores.append(CandidateScore(candidate, evaluate_run(run, qrels, ["RR@10"])["RR@10"], mean_tokens))
        logger.info("smoothing %s: MRR@10 %.4f on %d pseudo-queries", candidate.describe(), scores[-1].mrr_at_10,
                    len(queries))
    best = max(scores, key=lambda s: s.mrr_at_10)  # max keeps the first of equal scores
    return SmoothingChoice(best.smoothing, len(queries), scores)


def _smooth_all(ids: list[str], vectors: Mapping[str, SparseVector], cropped: Mapping[str, SparseVector],
                found: Neighbours | None, smoothing: Smoothing) -> dict[str, SparseVector]:
    def corpus(doc_id: str) -> SparseVector:
        return cropped[doc_id] if doc_id in cropped else vectors[doc_id]

    if not smoothing.enabled or found is None:
        return {doc_id: corpus(doc_id) for doc_id in ids}
    k = smoothing.neighbours
    rows, sims = found.rows[:, :k], found.similarities[:, :k]
    smoothed = {}
    for i, doc_id in enumerate(ids):
        valid = rows[i] >= 0
        smoothed[doc_id] = smooth_vector(corpus(doc_id), [corpus(ids[r]) for r in rows[i][valid]],
                                         sims[i][valid].tolist(), smoothing)
    return smoothed


MODEL_SMOOTHING_FILE = "smoothing.json"
"""Where a model folder records the smoothing chosen for it (read by ``model_smoothing``)."""


def choose_corpus_smoothing(
    documents: Sequence[Document],
    workspace: Workspace,
    model_dir: Path,
    document_encoder: Callable[[], DocumentEncoder],
    encoder_settings: Mapping[str, Any],
    dense_model: Path,
    *,
    idf_path: Path,
    record: Path,
    sample: int = 300,
    seed: int = 0,
    show_progress: bool = False,
) -> SmoothingChoice:
    """Choose the smoothing of ``model_dir``'s vectors of ``documents`` and write the choice to ``record``.

    The corpus' vectors and dense embeddings are cached in ``workspace`` (where ``evaluate_beir``
    finds them again); queries are weighted by ``idf_path``. A ``record`` written for the same model,
    dense model and settings is read back instead of choosing again.
    """
    from sparsedoc.encoder.idf_query_encoder import IdfQueryEncoder
    from sparsedoc.encoder.loading import model_fingerprint

    from .index_build import corpus_embeddings
    from .packed_vectors import PackedVectors

    key = {"model": model_fingerprint(model_dir), "dense_model": dense_model.name, "sample": sample, "seed": seed,
           "settings": dict(encoder_settings)}
    if record.is_file() and (stored := json.loads(record.read_text())).get("key") == key:
        return SmoothingChoice(Smoothing(**stored["chosen"]), stored["queries"],
                               [CandidateScore(Smoothing(**c["smoothing"]), c["mrr@10"], c["mean_tokens"])
                                for c in stored["candidates"]])
    workspace.claim(model_dir, dict(encoder_settings))
    encoder = document_encoder()  # loaded once: for the corpus (if not cached yet) and the cropped documents
    workspace.ensure_vectors(lambda: documents, lambda: encoder, total=len(documents), show_progress=show_progress)
    embeddings, dense = corpus_embeddings([d.doc_id for d in documents], [d.content for d in documents], dense_model,
                                          workspace.embeddings_dir(dense_model), show_progress=show_progress)
    vectors = PackedVectors.read(workspace.vectors_path)
    choice = choose_smoothing(documents, vectors, embeddings, document_encoder=encoder, embed=dense.encode,
                              query_encoder=IdfQueryEncoder.from_files(model_dir, idf_path), sample=sample, seed=seed)
    record.write_text(json.dumps({
        "chosen": choice.chosen.to_dict(), "dense_model": dense_model.name, "queries": choice.queries, "key": key,
        "candidates": [{"smoothing": s.smoothing.to_dict(), "mrr@10": s.mrr_at_10, "mean_tokens": s.mean_tokens}
                       for s in choice.scores]}, indent=2))
    return choice


def model_smoothing(model_dir: Path) -> Smoothing | None:
    """The smoothing recorded with a model (``adapt`` writes it), or ``None``."""
    path = model_dir / MODEL_SMOOTHING_FILE
    if not path.is_file():
        return None
    try:
        return Smoothing(**json.loads(path.read_text())["chosen"])
    except (ValueError, KeyError, TypeError) as err:
        raise InputError(f"unreadable smoothing record ({err})", path=path) from err
