"""A deterministic random corpus of sparse vectors and texts, shared by the engine tests.

Its vocabulary mixes odd tokens (sub-words, unicode, spaces, dots, a 300-character token)
with tokens present in every document, which engines must not drop.
"""

from __future__ import annotations

import random

from sparsedoc.encoder.sparse_vector import SparseVector
from sparsedoc.plugin.base import EncodedDocument

N_DOCS = 200
EVERYWHERE = ["every", "##s", "."]
ODD = ["##ing", "é", "日本", "a b", "[CLS]", "AND", "the", "don't", "-", "ß", "x" * 300, "a.b"]
VOCAB = EVERYWHERE + ODD + [f"tok{i}" for i in range(300 - len(EVERYWHERE) - len(ODD))]
WORDS = ["wing", "lift", "drag", "engine", "air", "flow", "speed", "pressure", "cabin", "pilot"]


def random_corpus(seed: int = 7) -> list[EncodedDocument]:
    """200 documents; document 42 alone contains the word 'zeppelin'."""
    rng = random.Random(seed)
    docs = []
    for i in range(N_DOCS):
        weights = {t: rng.uniform(0.001, 3.0) for t in rng.sample(VOCAB[len(EVERYWHERE):], rng.randint(5, 60))}
        weights.update({t: rng.uniform(0.01, 1.0) for t in EVERYWHERE})
        text = " ".join(rng.choices(WORDS, k=rng.randint(3, 30)))
        if i == 42:
            text += " zeppelin"
        docs.append(EncodedDocument(f"{i:04d}", text, SparseVector(weights)))
    return docs


def random_queries(count: int = 20, seed: int = 11) -> list[SparseVector]:
    """Queries of 3-12 tokens with IDF-like weights in [0.5, 12]."""
    rng = random.Random(seed)
    return [SparseVector({t: rng.uniform(0.5, 12.0) for t in rng.sample(VOCAB, rng.randint(3, 12))})
            for _ in range(count)]
