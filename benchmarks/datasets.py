"""Benchmark corpora as vectors files plus queries: Cranfield (real) and synthetic ones.

Every dataset is materialised once under ``<out>/data/<name>/`` as a vectors JSONL file
(``sparsedoc.ingest.vectors_file``) and a ``queries.jsonl`` holding each query's text and
sparse vector, so engines are fed from the same bytes and reruns skip generation.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparsedoc.encoder.sparse_vector import SparseVector
from sparsedoc.ingest.synthetic import VOCAB_PATH, SyntheticConfig, SyntheticCorpus, load_vocabulary
from sparsedoc.ingest.vectors_file import append_encoded, read_encoded
from sparsedoc.plugin.base import EncodedDocument


logger = logging.getLogger(__name__)

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"  # ../shared/data beside the clone
CRANFIELD = SHARED_DATA / "cranfield"
QUICKSTART = Path("runs/quickstart/cranfield")
SYNTHETIC_SIZES = {"synthetic-100k": 100_000, "synthetic-1m": 1_000_000}


def write_result(path: Path, result: dict[str, Any]) -> None:
    """Write a benchmark's ``result`` to ``path`` as indented JSON (its folder is created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


@dataclass
class Dataset:
    """A corpus in a vectors file, and its queries (text for BM25, vector for sparse)."""

    name: str
    vectors_path: Path
    num_documents: int
    query_ids: list[str]
    query_texts: list[str]
    query_vectors: list[SparseVector]
    info: dict[str, object] = field(default_factory=dict)

    def documents(self) -> Iterator[EncodedDocument]:
        """Stream the documents from the vectors file."""
        return read_encoded(self.vectors_path)


def _write_queries(path: Path, ids: list[str], texts: list[str], vectors: list[SparseVector]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for qid, text, vector in zip(ids, texts, vectors):
            handle.write(json.dumps({"_id": qid, "text": text, "vector": vector.to_dict()}) + "\n")


def _read_queries(path: Path) -> tuple[list[str], list[str], list[SparseVector]]:
    ids, texts, vectors = [], [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        ids.append(record["_id"])
        texts.append(record["text"])
        vectors.append(SparseVector(record["vector"]))
    return ids, texts, vectors


def synthetic_dataset(name: str, out: Path, *, seed: int = 13, num_queries: int = 500) -> Dataset:
    """Generate (once) the synthetic corpus ``name`` (``synthetic-100k`` or ``synthetic-1m``)."""
    size = SYNTHETIC_SIZES[name]
    folder = out / "data" / name
    vectors, queries, done = folder / "vectors.jsonl", folder / "queries.jsonl", folder / "config.json"
    config = SyntheticConfig(num_documents=size, num_queries=num_queries, seed=seed)
    if not (done.is_file() and json.loads(done.read_text())["config"] == config.__dict__):
        folder.mkdir(parents=True, exist_ok=True)
        vectors.unlink(missing_ok=True)
        start = time.perf_counter()
        corpus = SyntheticCorpus(load_vocabulary(VOCAB_PATH), config)
        batch: list[EncodedDocument] = []
        for doc in corpus.documents():
            batch.append(doc)
            if len(batch) == 5000:
                append_encoded(vectors, batch)
                batch = []
        append_encoded(vectors, batch)
        generated = corpus.queries()
        _write_queries(queries, [q.query_id for q in generated], [q.text for q in generated],
                       [q.vector for q in generated])
        seconds = time.perf_counter() - start
        done.write_text(json.dumps({"config": config.__dict__, "generation_seconds": seconds}, indent=1))
        logger.info("generated %s in %.0f s", name, seconds)
    ids, texts, qvectors = _read_queries(queries)
    return Dataset(name, vectors, size, ids, texts, qvectors, {"synthetic_config": config.__dict__})


def cranfield_dataset(out: Path, *, data: Path = CRANFIELD, quickstart: Path = QUICKSTART) -> Dataset:
    """Cranfield encoded by SPLADE-tiny (the quickstart's vectors if present, else encoded here).

    Query vectors are the inference-free ones: tokenizer + IDF (``IdfQueryEncoder``).
    """
    from sparsedoc.encoder.assets import fetch_asset
    from sparsedoc.encoder.idf import compute_idf, load_idf, save_idf
    from sparsedoc.encoder.idf_query_encoder import IdfQueryEncoder
    from sparsedoc.encoder.loading import load_tokenizer
    from sparsedoc.ingest.readers import read_documents, read_queries

    model = fetch_asset("splade-tiny")
    folder = out / "data" / "cranfield"
    folder.mkdir(parents=True, exist_ok=True)
    vectors, idf_path = quickstart / "vectors.jsonl", quickstart / "idf.json"
    source = "quickstart"
    if not (vectors.is_file() and idf_path.is_file()):
        from sparsedoc.encoder.torch_doc_encoder import TorchDocumentEncoder
        from sparsedoc.ingest.pipeline import encode_to_file

        vectors, idf_path, source = folder / "vectors.jsonl", folder / "idf.json", "encoded"
        if not idf_path.is_file():
            texts = (d.content for d in read_documents(data / "corpus.jsonl"))
            save_idf(compute_idf(texts, load_tokenizer(model)), idf_path)
        encode_to_file(read_documents(data / "corpus.jsonl"), TorchDocumentEncoder(model), vectors)
    encoder = IdfQueryEncoder(load_tokenizer(model), load_idf(idf_path))
    queries = list(read_queries(data / "queries.jsonl"))
    texts = [q.text for q in queries]
    num_docs = sum(1 for _ in read_encoded(vectors))
    return Dataset("cranfield", vectors, num_docs, [q.query_id for q in queries], texts,
                   encoder.encode_query(texts), {"vectors": str(vectors), "source": source})
