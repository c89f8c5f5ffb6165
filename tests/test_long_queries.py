"""Long queries: sparse, BM25 and hybrid keep the MAX_QUERY_TOKENS highest-IDF terms, on both engines.

The corpus has three groups of words, each a single bert-base-uncased token and a single
English-analysed term: 512 "kept" words in one document each (the highest IDF), 88
"borderline" words in two documents each, and 600 "common" words in 20 documents each.
A 3,000-word query holds all 1,200, common words first: cutting the first 512 tokens would
keep only common words; the budget keeps exactly the 512 kept words, so only the documents
holding them are found.
"""

from __future__ import annotations

import struct
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sparsedoc.encoder.idf import compute_idf, save_idf
from sparsedoc.encoder.idf_query_encoder import IdfQueryEncoder
from sparsedoc.encoder.sparse_vector import SparseVector
from sparsedoc.plugin.base import Backend, EncodedDocument
from sparsedoc.plugin.query_budget import MAX_QUERY_TOKENS

pytestmark = pytest.mark.engine

ENGINES = ["lucene", pytest.param("opensearch", marks=pytest.mark.opensearch)]
STEM_REPEATS = {"carrying", "closing", "studying"}  # their English stems repeat an earlier word's
N_BORDERLINE, N_COMMON = 88, 600
DROPPED = N_BORDERLINE + N_COMMON


@dataclass(frozen=True)
class LongQueryCorpus:
    documents: list[EncodedDocument]
    kept: list[str]
    query: str
    idf: dict[str, float]

    @property
    def kept_ids(self) -> set[str]:
        return {d.doc_id for d in self.documents if d.doc_id.startswith("k")}


def _words(vocab_file: Path) -> list[str]:
    """1,200 vocabulary words of 7+ ASCII letters with distinct first five letters and distinct stems."""
    words, prefixes = [], set()
    for word in vocab_file.read_text(encoding="utf-8").split("\n"):
        if word.isascii() and word.isalpha() and word.islower() and len(word) >= 7 and word[:5] not in prefixes:
            prefixes.add(word[:5])
            if word not in STEM_REPEATS:
                words.append(word)
    return words[:MAX_QUERY_TOKENS + N_BORDERLINE + N_COMMON]


@pytest.fixture(scope="module")
def corpus(minilm_dir: Path, bert_tokenizer) -> LongQueryCorpus:  # noqa: ANN001
    words = _words(minilm_dir / "vocab.txt")
    kept, borderline, common = words[:MAX_QUERY_TOKENS], words[MAX_QUERY_TOKENS:-N_COMMON], words[-N_COMMON:]
    groups = [(f"k{i:02d}", kept[16 * i:16 * i + 16]) for i in range(32)]
    groups += [(f"b{i:02d}{copy}", borderline[8 * i:8 * i + 8]) for i in range(11) for copy in "xy"]
    groups += [(f"c{i:02d}", common) for i in range(20)]
    documents = [EncodedDocument(doc_id, " ".join(group), SparseVector(dict.fromkeys(group, 1.0)))
                 for doc_id, group in groups]
    query = " ".join(2 * (common + borderline + kept) + common)  # 3,000 words, common ones first
    assert len(query.split()) == 3000
    return LongQueryCorpus(documents, kept, query, compute_idf([d.text for d in documents], bert_tokenizer))


@pytest.fixture(params=ENGINES)
def backend(request: pytest.FixtureRequest, corpus: LongQueryCorpus, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "lucene":
        engine = request.getfixturevalue("lucene_backend_cls")(tmp_path / "idx")
    else:
        from sparsedoc.plugin.opensearch.backend import OpenSearchBackend

        engine = OpenSearchBackend(request.getfixturevalue("opensearch_url"), f"long-{uuid.uuid4().hex[:8]}")
    report = engine.index(corpus.documents)
    assert (report.indexed, report.failures) == (len(corpus.documents), [])
    yield engine
    engine.delete_index()
    engine.close()


def test_a_3000_word_query_keeps_its_highest_idf_terms_in_every_mode(backend: Backend, corpus: LongQueryCorpus,
                                                                     bert_tokenizer) -> None:  # noqa: ANN001
    vector = IdfQueryEncoder(bert_tokenizer, corpus.idf).encode_query([corpus.query])[0]
    assert len(vector) == MAX_QUERY_TOKENS + DROPPED  # the whole query is tokenised

    sparse = backend.search_sparse(vector, k=100)
    assert sparse.dropped_tokens == DROPPED
    assert set(sparse.doc_ids) == corpus.kept_ids
    by_id = {d.doc_id: d for d in corpus.documents}
    for hit in sparse.hits:  # each kept word scores its IDF (document weight 1.0)
        assert hit.score == pytest.approx(sum(corpus.idf[t] for t in by_id[hit.doc_id].vector), rel=3e-3)

    bm25 = backend.search_bm25(corpus.query, k=100)
    assert bm25.dropped_tokens == DROPPED
    assert set(bm25.doc_ids) == corpus.kept_ids
    alone = backend.search_bm25(" ".join(2 * corpus.kept), k=100)  # the kept words, as often as in the query
    assert alone.dropped_tokens == 0
    assert bm25.scores() == pytest.approx(alone.scores(), rel=1e-5)

    hybrid = backend.search_hybrid(corpus.query, vector, k=100)
    assert hybrid.dropped_tokens == 2 * DROPPED
    assert set(hybrid.doc_ids) == corpus.kept_ids


def test_verbose_search_reports_the_dropped_terms(corpus: LongQueryCorpus, lucene_backend_cls: type,
                                                  minilm_dir: Path, tmp_path: Path) -> None:
    with lucene_backend_cls(tmp_path / "idx") as engine:
        engine.index(corpus.documents)
    save_idf(corpus.idf, tmp_path / "idf.json")
    common = [sys.executable, "-m", "sparsedoc.cli.main", "-v", "search", corpus.query, "--index",
              str(tmp_path / "idx"), "-k", "3"]
    for mode, what in (["--bm25"], "BM25 query"), (["--model", str(minilm_dir), "--idf", str(tmp_path / "idf.json")],
                                                     "sparse query"):
        done = subprocess.run([*common, *mode], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        assert f"{what}: 1200 distinct" in done.stderr and f"dropped {DROPPED}" in done.stderr
        assert [line.split()[1][0] for line in done.stdout.splitlines()[2:]] == ["k", "k", "k"]


@pytest.mark.opensearch
def test_analyzer_mode_keeps_the_highest_weighted_server_tokens(corpus: LongQueryCorpus, opensearch_url: str) -> None:
    """OpenSearch tokenises and weights the query (3.1+): the 1,200 distinct tokens (over the server's
    1,024-clause limit) are cut to the 512 it weighs highest, and score as the server scores their text."""
    from sparsedoc.plugin.opensearch.backend import OpenSearchBackend
    from sparsedoc.plugin.opensearch.client import cluster_version
    from sparsedoc.plugin.opensearch.features import features_of

    backend = OpenSearchBackend(opensearch_url, f"long-{uuid.uuid4().hex[:8]}")
    try:
        if "analyzer_query" not in features_of(cluster_version(backend.client, opensearch_url)):
            pytest.skip("search by analyzer needs OpenSearch 3.1+")
        backend.index(corpus.documents)
        explained = backend.client.indices.analyze(index=backend.index_name, body={
            "analyzer": "bert-uncased", "text": corpus.query, "explain": True, "attributes": ["payload"]})
        weights = {t["token"]: struct.unpack(">f", bytes(int(b, 16) for b in t["payload"].strip("[]").split()))[0]
                   for t in explained["detail"]["analyzer"]["tokens"]}  # the server's own token weights
        assert len(weights) == MAX_QUERY_TOKENS + DROPPED
        kept = sorted(weights, key=lambda token: (-weights[token], token))[:MAX_QUERY_TOKENS]

        cut = backend.search_analyzer(corpus.query, k=100)
        assert cut.dropped_tokens == DROPPED and cut.hits
        alone = backend.search_analyzer(" ".join(kept), k=100)  # within the budget: the server analyses the text
        assert alone.dropped_tokens == 0
        assert cut.scores() == pytest.approx(alone.scores(), rel=1e-6)
        short = backend.search_analyzer(" ".join(corpus.kept[:3]), k=5)  # a short text goes as it is
        assert short.dropped_tokens == 0 and len(short.hits) == 1
    finally:
        backend.delete_index()
        backend.close()
