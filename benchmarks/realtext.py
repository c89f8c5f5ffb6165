"""Real-text benchmark corpora encoded by the real model (SPLADE-tiny, ONNX int8).

* ``scifact``: the SciFact corpus (5,183 abstracts) and its queries.
* ``realtext-100k`` (and ``realtext-1m``): documents of 2-4 sentences drawn, with one seeded
  generator, from the sentences of the shared Cranfield, SciFact and CISI corpora (each
  sentence of 5-60 words, deduplicated and sorted before drawing, so the corpus is the same
  on every machine); queries are those collections' real queries (a seeded 500).

Query vectors are inference-free (tokenizer + the corpus' own IDF, ``IdfQueryEncoder``).
Encoding runs once and is cached under ``~/.cache/sparsedoc/bench/<name>/`` (resumable:
interrupt and rerun); 100k short documents take about an hour on two busy cores, so start
it early and at low priority::

    nice -n 19 python -m benchmarks.realtext realtext-100k
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from sparsedoc.encoder.assets import cache_home
from sparsedoc.encoder.beir import Document, read_documents, read_queries
from sparsedoc.ingest.vectors_file import read_encoded

from .datasets import SHARED_DATA, Dataset

logger = logging.getLogger(__name__)

COLLECTIONS = ("cranfield", "scifact", "cisi")
REALTEXT_SIZES = {"realtext-100k": 100_000, "realtext-1m": 1_000_000}
BENCH_CACHE = cache_home() / "bench"
MAX_LENGTH = 256
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")


def sentences(data: Path = SHARED_DATA) -> list[str]:
    """The distinct 5-60-word sentences of the shared collections, sorted."""
    found: set[str] = set()
    for name in COLLECTIONS:
        for doc in read_documents(data / name / "corpus.jsonl"):
            for sentence in _SENTENCE_END.split(" ".join(doc.content.split())):
                if 5 <= len(sentence.split()) <= 60:
                    found.add(sentence)
    return sorted(found)


def recombined(pool: list[str], num_documents: int, seed: int = 13) -> Iterator[Document]:
    """``num_documents`` documents ``r0 ..`` of 2-4 sentences drawn from ``pool`` with one seed."""
    rng = np.random.default_rng([seed, 3])
    for i in range(num_documents):
        picks = rng.integers(0, len(pool), size=int(rng.integers(2, 5)))
        yield Document(f"r{i}", " ".join(pool[p] for p in picks.tolist()))


def real_queries(data: Path = SHARED_DATA, num_queries: int = 500, seed: int = 13) -> tuple[list[str], list[str]]:
    """A seeded sample of the shared collections' queries: ids (``<collection>-<id>``) and texts."""
    pairs = [(f"{name}-{q.query_id}", q.text) for name in COLLECTIONS
             for q in read_queries(data / name / "queries.jsonl")]
    order = np.random.default_rng([seed, 4]).permutation(len(pairs))[:num_queries]
    return [pairs[i][0] for i in order.tolist()], [pairs[i][1] for i in order.tolist()]


def int8_model(cache: Path = BENCH_CACHE) -> Path:
    """SPLADE-tiny exported to ONNX and quantised to int8, once, under ``cache``."""
    from sparsedoc.encoder.assets import fetch_asset
    from sparsedoc.encoder.onnx_export import export_onnx
    from sparsedoc.encoder.onnx_format import is_onnx_dir
    from sparsedoc.encoder.onnx_quantize import quantize_int8

    fp32, int8 = cache / "splade-tiny-onnx", cache / "splade-tiny-int8"
    if not is_onnx_dir(int8):
        if not is_onnx_dir(fp32):
            export_onnx(fetch_asset("splade-tiny"), fp32, max_length=MAX_LENGTH, overwrite=True)
        quantize_int8(fp32, int8, overwrite=True)
    return int8


def _encode(name: str, documents: Iterator[Document], total: int, cache: Path, threads: int) -> tuple[Path, Path]:
    """Encode ``documents`` into ``cache/name/vectors.jsonl`` (resumable) and write its ``idf.json``."""
    from sparsedoc.encoder.idf import compute_idf, save_idf
    from sparsedoc.encoder.onnx_doc_encoder import OnnxDocumentEncoder
    from sparsedoc.ingest.pipeline import encode_to_file

    folder = cache / name
    folder.mkdir(parents=True, exist_ok=True)
    vectors, idf_path, done = folder / "vectors.jsonl", folder / "idf.json", folder / "done.json"
    if done.is_file():
        return vectors, idf_path
    encoder = OnnxDocumentEncoder(int8_model(cache), num_threads=threads, batch_size=32)
    start = time.perf_counter()
    encode_to_file(documents, encoder, vectors, batch_size=512, total=total, show_progress=sys.stderr.isatty())
    texts = (doc.text for doc in read_encoded(vectors))
    save_idf(compute_idf(texts, encoder.tokenizer), idf_path)
    done.write_text(json.dumps({"documents": total, "model": "splade-tiny int8",
                                "seconds": time.perf_counter() - start}, indent=1))
    return vectors, idf_path


def _dataset(name: str, vectors: Path, idf_path: Path, ids: list[str], texts: list[str]) -> Dataset:
    from sparsedoc.encoder.idf import load_idf
    from sparsedoc.encoder.idf_query_encoder import IdfQueryEncoder
    from sparsedoc.encoder.loading import load_tokenizer

    encoder = IdfQueryEncoder(load_tokenizer(int8_model()), load_idf(idf_path))
    num_docs = sum(1 for _ in open(vectors, "rb"))
    return Dataset(name, vectors, num_docs, ids, texts, encoder.encode_query(texts),
                   {"vectors": str(vectors), "model": "splade-tiny int8"})


def realtext_dataset(name: str, *, cache: Path = BENCH_CACHE, threads: int = 1) -> Dataset:
    """The recombined real-text corpus ``name`` (``realtext-100k`` or ``realtext-1m``), encoded once."""
    size = REALTEXT_SIZES[name]
    vectors, idf_path = _encode(name, recombined(sentences(), size), size, cache, threads)
    ids, texts = real_queries()
    return _dataset(name, vectors, idf_path, ids, texts)


def scifact_dataset(*, cache: Path = BENCH_CACHE, threads: int = 1, data: Path = SHARED_DATA / "scifact") -> Dataset:
    """SciFact's corpus, encoded once, and all its queries."""
    total = sum(1 for _ in open(data / "corpus.jsonl", "rb"))
    vectors, idf_path = _encode("scifact", read_documents(data / "corpus.jsonl"), total, cache, threads)
    queries = list(read_queries(data / "queries.jsonl"))
    return _dataset("scifact", vectors, idf_path, [q.query_id for q in queries], [q.text for q in queries])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="+", choices=["scifact", *REALTEXT_SIZES])
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime threads")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for name in args.names:
        dataset = scifact_dataset(threads=args.threads) if name == "scifact" else realtext_dataset(
            name, threads=args.threads)
        print(f"{name}: {dataset.num_documents} documents, {len(dataset.query_texts)} queries at {dataset.vectors_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
