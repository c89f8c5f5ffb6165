"""Exact in-memory evaluation of a student on a judged collection, with the diagnostics training needs.

Documents are scored only on the vocabulary columns that the queries use (queries are token sets), so a
5,000-document collection takes seconds, not minutes. Besides nDCG@10 and Recall@100 it reports:

- ``flops``: ``sum_j p_q(j) * p_d(j)`` (only query columns contribute, so it is exact here);
- ``dropped_own_terms`` / ``dropped_own_idf``: of the query tokens that occur in a relevant document's
  own (encoded) text, the share -- by count and by IDF mass -- to which the document vector gives weight 0.
  These are matches BM25 scores and the inference-free model throws away.

Queries are weighted by ``idf`` (a token -> weight table, normally the collection's own corpus IDF).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from .data import DevSet

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase

    from .student import SparseStudent

MEASURES = ("nDCG@10", "R@100")


def evaluate_student(
    student: SparseStudent,
    tokenizer: PreTrainedTokenizerBase,
    dev: DevSet,
    idf: Mapping[str, float],
    *,
    max_length: int = 256,
    batch_size: int = 32,
    k: int = 100,
) -> dict[str, float]:
    """Return nDCG@10, R@100, FLOPS and the dropped-own-terms shares of ``student`` on ``dev``.

    Args:
        student: the document encoder (its train/eval mode is restored afterwards).
        tokenizer: the student's tokenizer (queries are tokenized without special tokens).
        dev: documents, judged queries and qrels.
        idf: query weights by token string; tokens missing from it weigh 0.
        max_length: the document token window (as at encoding time).
    """
    import torch

    from ..doc_batches import rows_to_vectors
    from ..exact_search import exact_search
    from ..metrics import evaluate_run

    query_ids = list(dev.queries)
    special = {i for i in tokenizer.all_special_ids if i is not None and i >= 0}
    token_ids = tokenizer([dev.queries[q] for q in query_ids], add_special_tokens=False, verbose=False)["input_ids"]
    columns = sorted({t for ids in token_ids for t in ids} - special)
    position = {t: j for j, t in enumerate(columns)}
    tokens = tokenizer.convert_ids_to_tokens(columns)
    column_idf = torch.tensor([float(idf.get(t, 0.0)) for t in tokens])
    presence = torch.zeros(len(query_ids), len(columns))
    for i, ids in enumerate(token_ids):
        for t in set(ids) - special:
            presence[i, position[t]] = 1.0
    weights, in_text = _document_columns(student, tokenizer, dev.doc_texts, torch.tensor(columns, dtype=torch.long),
                                         position, max_length, batch_size)
    names = [str(c) for c in columns]
    run = exact_search(dict(zip(query_ids, rows_to_vectors((presence * column_idf).numpy(), names), strict=True)),
                       dict(zip(dev.doc_ids, rows_to_vectors(weights.numpy(), names), strict=True)), k=k)
    result = evaluate_run(run, dev.qrels, MEASURES)
    p_query = presence.mean(dim=0)
    p_doc = (weights > 0).float().mean(dim=0)
    result["flops"] = float((p_query * p_doc).sum())
    result |= _dropped_own_terms(query_ids, presence, column_idf, weights, in_text, dev)
    return result


def _document_columns(student: SparseStudent, tokenizer: PreTrainedTokenizerBase, texts: list[str],
                      columns: torch.Tensor, position: Mapping[int, int], max_length: int,
                      batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights ``[docs, columns]`` and a 0/1 matrix: the column's token occurs in the encoded document."""
    import torch

    weights = torch.zeros(len(texts), len(columns))
    in_text = torch.zeros(len(texts), len(columns), dtype=torch.bool)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    was_training = student.model.training
    student.model.eval()
    try:
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                index = order[start : start + batch_size]
                encoded = tokenizer([texts[i] for i in index], padding=True, truncation=True, max_length=max_length,
                                    return_tensors="pt", verbose=False)
                weights[index] = student.document_weights(encoded["input_ids"], encoded["attention_mask"], columns)
                for row, ids in zip(index, encoded["input_ids"].tolist(), strict=True):
                    hits = [position[t] for t in set(ids) if t in position]
                    in_text[row, hits] = True
    finally:
        student.model.train(was_training)
    return weights, in_text


def _dropped_own_terms(query_ids: list[str], presence: torch.Tensor, column_idf: torch.Tensor, weights: torch.Tensor,
                       in_text: torch.Tensor, dev: DevSet) -> dict[str, float]:
    doc_row = {d: i for i, d in enumerate(dev.doc_ids)}
    matched = dropped = matched_idf = dropped_idf = 0.0
    for qi, query_id in enumerate(query_ids):
        query_columns = presence[qi].nonzero().flatten()
        for doc_id, relevance in dev.qrels[query_id].items():
            row = doc_row.get(doc_id)
            if relevance <= 0 or row is None:
                continue
            own = query_columns[in_text[row, query_columns]]
            zero = own[weights[row, own] <= 0]
            matched += len(own)
            dropped += len(zero)
            matched_idf += float(column_idf[own].sum())
            dropped_idf += float(column_idf[zero].sum())
    return {"dropped_own_terms": dropped / max(matched, 1.0), "dropped_own_idf": dropped_idf / max(matched_idf, 1e-9)}


def mean_nonzeros(student: SparseStudent, tokenizer: PreTrainedTokenizerBase, texts: list[str], *,
                  max_length: int = 256, batch_size: int = 16) -> float:
    """Mean nonzero weights per document over the full vocabulary (special tokens excluded)."""
    import torch

    special = [i for i in tokenizer.all_special_ids if i is not None and i >= 0]
    total = 0.0
    was_training = student.model.training
    student.model.eval()
    try:
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                encoded = tokenizer(texts[start : start + batch_size], padding=True, truncation=True,
                                    max_length=max_length, return_tensors="pt", verbose=False)
                weights = student.document_weights(encoded["input_ids"], encoded["attention_mask"], None)
                weights[:, special] = 0.0
                total += float((weights > 0).sum())
    finally:
        student.model.train(was_training)
    return total / max(1, len(texts))

