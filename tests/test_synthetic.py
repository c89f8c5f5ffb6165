"""The synthetic benchmark corpus: determinism and the statistics it promises."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from sparsedoc.ingest.synthetic import VOCAB_PATH, SyntheticConfig, SyntheticCorpus, load_vocabulary



def _vocabulary() -> list[str]:
    # a stand-in for bert's vocab.txt: specials, unused slots, single characters, then words by frequency
    lines = ["[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "!", "a", "b", "é"]
    lines += ["the", "of", ",", "and"] + [f"w{i}" for i in range(3000)] + [f"##s{i}" for i in range(500)]
    return lines


@pytest.fixture()
def vocab_file(tmp_path: Path) -> Path:
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(_vocabulary()) + "\n", encoding="utf-8")
    return path


def test_vocabulary_drops_special_and_punctuation_tokens_and_ranks_words_first(vocab_file: Path) -> None:
    vocab = load_vocabulary(vocab_file)
    assert vocab[:3] == ["the", "of", "and"]
    assert vocab[-2:] == ["a", "b"]  # single characters last
    assert not {"[PAD]", "[unused0]", "[CLS]", "!", ",", "é"} & set(vocab)
    assert "##s0" in vocab


def test_same_seed_same_corpus_other_seed_other_corpus(vocab_file: Path) -> None:
    vocab = load_vocabulary(vocab_file)
    config = SyntheticConfig(num_documents=50, num_queries=10, seed=3)
    first = SyntheticCorpus(vocab, config)
    second = SyntheticCorpus(vocab, config)
    docs_a, docs_b = list(first.documents()), list(second.documents())
    assert [(d.doc_id, d.text, d.vector.to_dict()) for d in docs_a] == [
        (d.doc_id, d.text, d.vector.to_dict()) for d in docs_b
    ]
    assert [(q.text, q.vector.to_dict()) for q in first.queries()] == [
        (q.text, q.vector.to_dict()) for q in second.queries()
    ]
    assert list(first.documents())[7].vector == docs_a[7].vector  # iterating again repeats the stream
    other = list(SyntheticCorpus(vocab, SyntheticConfig(num_documents=50, num_queries=10, seed=4)).documents())
    assert [d.text for d in other] != [d.text for d in docs_a]


def test_statistics_match_the_config(vocab_file: Path) -> None:
    vocab = load_vocabulary(vocab_file)
    config = SyntheticConfig(num_documents=400, num_queries=100, seed=1)
    corpus = SyntheticCorpus(vocab, config)
    docs = list(corpus.documents())
    assert [d.doc_id for d in docs[:2]] == ["d0", "d1"] and len(docs) == 400
    sizes = np.array([len(d.vector) for d in docs])
    assert sizes.min() >= 100 and sizes.max() <= 200 and 140 <= sizes.mean() <= 160
    weights = np.concatenate([np.fromiter(d.vector.values(), float) for d in docs])
    assert weights.min() >= 0.01 and weights.max() <= 3.0
    assert 0.35 <= np.median(weights) <= 0.6  # SPLADE-like: median about 0.47
    # Zipf: the head token is in most documents, a mid-rank token in few
    df = corpus.document_frequencies()
    assert df[0] / 400 > 0.8 and df[1000] / 400 < 0.2 and df[0] > df[10] > df[100]
    for doc in docs[:20]:  # texts repeat only the document's own whole-word tokens
        words = set(doc.text.split())
        assert words and words <= set(doc.vector) and not any(w.startswith("##") for w in words)
    queries = corpus.queries()
    assert len(queries) == 100
    for q in queries:
        tokens = q.text.split()
        assert 5 <= len(tokens) <= 10 and len(set(tokens)) == len(tokens)
        n = config.num_documents
        for token, weight in q.vector.items():
            dfi = int(df[vocab.index(token)])
            assert math.isclose(weight, math.log(1 + (n - dfi + 0.5) / (dfi + 0.5)))
    idf = corpus.idf()
    assert idf["the"] < idf[vocab[1500]]


def test_real_bert_vocabulary_if_cached() -> None:
    if not VOCAB_PATH.is_file():
        pytest.skip("bert-base-uncased vocab.txt not cached")
    vocab = load_vocabulary(VOCAB_PATH)
    assert vocab[:4] == ["the", "of", "and", "in"]
    assert 25_000 < len(vocab) < 30_522
