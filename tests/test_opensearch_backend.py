"""The OpenSearch backend against real OpenSearch nodes of every version in the matrix (never a mock)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from opensearch_nodes import record_gap
from sparse_corpus import N_DOCS, random_corpus, random_queries

from sparsedoc.encoder.errors import BackendError, ConfigError
from sparsedoc.encoder.sparse_vector import SparseVector
from sparsedoc.plugin.base import EncodedDocument, SearchResult
from sparsedoc.plugin.opensearch.backend import OpenSearchBackend
from sparsedoc.plugin.opensearch.client import require_feature
from sparsedoc.plugin.opensearch.features import features_of

pytestmark = [pytest.mark.engine, pytest.mark.opensearch]

RANK_FEATURES_RELATIVE_ERROR = 2 ** -8  # 9 significant bits


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def opensearch_url(versioned_opensearch: tuple[str, str]) -> str:
    """This module runs once per OpenSearch version of the matrix."""
    return versioned_opensearch[1]


@pytest.fixture(scope="module")
def version(versioned_opensearch: tuple[str, str]) -> str:
    return versioned_opensearch[0]


@pytest.fixture(scope="module")
def corpus() -> list[EncodedDocument]:
    return random_corpus()


@pytest.fixture(scope="module")
def shared(opensearch_url: str, corpus: list[EncodedDocument]) -> Iterator[OpenSearchBackend]:
    """The random corpus indexed once; tests using it must not write to it."""
    backend = OpenSearchBackend(opensearch_url, _name("shared"))
    backend.create_index()
    report = backend.index(corpus)
    assert (report.indexed, report.skipped, report.failures) == (N_DOCS, 0, [])
    yield backend
    backend.delete_index()
    backend.close()


@pytest.fixture()
def fresh(opensearch_url: str) -> Iterator[OpenSearchBackend]:
    backend = OpenSearchBackend(opensearch_url, _name("fresh"), chunk_size=7)
    backend.create_index()
    yield backend
    backend.delete_index()
    backend.close()


def _assert_same_ranking(result: SearchResult, expected: dict[str, float], k: int) -> None:
    """Equal top-k up to ties within rank_features precision; scores within that precision."""
    hits = result.hits
    ranked = sorted(expected.items(), key=lambda kv: -kv[1])[:k]
    assert len(hits) == len(ranked)
    tolerance = RANK_FEATURES_RELATIVE_ERROR * max(abs(ranked[0][1]), 1e-9)
    for hit, (_, score) in zip(hits, ranked):
        assert hit.score == pytest.approx(score, abs=tolerance)
        assert expected[hit.doc_id] == pytest.approx(hit.score, abs=tolerance)


def test_count_and_engine_time(shared: OpenSearchBackend) -> None:
    assert shared.count() == N_DOCS
    assert shared.search_bm25("wing", k=5).took_ms >= 0


@pytest.mark.parametrize("mode", ["neural_sparse", "rank_feature"])
def test_sparse_scores_are_dot_products(opensearch_url: str, shared: OpenSearchBackend,
                                        corpus: list[EncodedDocument], mode: str) -> None:
    backend = OpenSearchBackend(opensearch_url, shared.index_name, query_mode=mode)
    for query in random_queries():
        if mode == "rank_feature":  # tokens with '.' cannot be addressed there (documented)
            query = SparseVector({t: w for t, w in query.items() if "." not in t})
        expected = {d.doc_id: query.dot(d.vector) for d in corpus if query.dot(d.vector) > 0}
        _assert_same_ranking(backend.search_sparse(query, k=10), expected, 10)


def test_auto_mode_uses_the_neural_search_plugin(shared: OpenSearchBackend) -> None:
    assert shared.query_mode == "neural_sparse"


def test_weights_above_64_are_scaled_and_scores_restored(shared: OpenSearchBackend,
                                                         corpus: list[EncodedDocument]) -> None:
    query = SparseVector({"every": 500.0, "a.b": 2.0})
    expected = {d.doc_id: query.dot(d.vector) for d in corpus if query.dot(d.vector) > 0}
    _assert_same_ranking(shared.search_sparse(query, k=5), expected, 5)


def test_parity_with_lucene(shared: OpenSearchBackend, corpus: list[EncodedDocument], lucene_backend_cls: type,
                            tmp_path: Path) -> None:
    with lucene_backend_cls(tmp_path / "lucene") as lucene:
        lucene.create_index()
        lucene.index(corpus)
        for query in random_queries(seed=5):
            from_lucene = list(lucene.search_sparse(query, k=10).hits)
            from_opensearch = list(shared.search_sparse(query, k=10).hits)
            tenth = min(from_lucene[-1].score, from_opensearch[-1].score)
            tie = 2 * RANK_FEATURES_RELATIVE_ERROR * from_lucene[0].score + 0.01 * len(query)
            differ = {h.doc_id for h in from_lucene} ^ {h.doc_id for h in from_opensearch}
            by_id = {h.doc_id: h.score for h in from_lucene + from_opensearch}
            assert all(by_id[d] <= tenth + tie for d in differ), (from_lucene, from_opensearch)


def test_bm25(shared: OpenSearchBackend) -> None:
    assert shared.search_bm25("zeppelin", k=3).doc_ids == ["0042"]


def test_analyzer_mode_runs_from_3_1_and_is_refused_before(shared: OpenSearchBackend, version: str) -> None:
    if "analyzer_query" in features_of(version):
        hits = shared.search_analyzer("every", k=3).hits  # server-side bert-uncased tokenizer + IDF (3.1+)
        assert len(hits) == 3 and all(h.score > 0 for h in hits)
        return
    with pytest.raises(BackendError) as caught:
        shared.search_analyzer("every", k=3)
    message = str(caught.value)
    assert f"needs OpenSearch 3.1+; the cluster at {shared.url} runs {version}" in message and "\n" not in message
    record_gap(version, "query mode 'analyzer' (test_analyzer_mode...)", message)


def test_sparse_vector_is_refused_before_3_3(shared: OpenSearchBackend, version: str) -> None:
    if "sparse_vector" in features_of(version):
        require_feature(shared.client, shared.url, "sparse_vector", "a sparse_vector index")
        return
    with pytest.raises(BackendError, match=f"needs OpenSearch 3.3\\+; the cluster at .* runs {version}") as caught:
        require_feature(shared.client, shared.url, "sparse_vector", "a sparse_vector (SEISMIC) index")
    record_gap(version, "sparse_vector / SEISMIC (test_sparse_vector...)", str(caught.value))


def test_resume_skips_existing_documents(fresh: OpenSearchBackend, corpus: list[EncodedDocument]) -> None:
    first = fresh.index(corpus[:30])
    second = fresh.index(corpus[:50])
    assert (first.indexed, second.indexed, second.skipped) == (30, 20, 30)
    assert fresh.count() == 50
    assert fresh.existing_ids(["0000", "0049", "0050", "nope"]) == {"0000", "0049"}


def test_empty_vectors_and_texts_are_indexed(fresh: OpenSearchBackend) -> None:
    fresh.index([EncodedDocument("e", "", SparseVector()), EncodedDocument("f", "x", SparseVector({"t": 1e-40}))])
    assert fresh.count() == 2
    assert fresh.search_sparse(SparseVector({"t": 1.0})).hits == ()


def test_partial_bulk_failure_names_the_refused_documents(fresh: OpenSearchBackend,
                                                         corpus: list[EncodedDocument]) -> None:
    bad = [EncodedDocument(f"bad{i}", "x", SparseVector({"t": 1e39})) for i in range(2)]  # > float32 range
    batch = corpus[:10] + bad[:1] + corpus[10:20] + bad[1:]
    report = fresh.index(batch)
    assert sorted(f.doc_id for f in report.failures) == ["bad0", "bad1"]
    assert "finite" in report.failures[0].reason
    assert report.indexed == fresh.count() == 20  # everything else was written


class ThrottlingClient:
    """Wraps a real client: the first bulk call answers 429 for every other document, unsent."""

    def __init__(self, client) -> None:  # noqa: ANN001
        self._client = client
        self.throttled = 0

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self._client, name)

    def bulk(self, *args, body, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201
        lines = body if isinstance(body, list) else body.splitlines()
        pairs = [lines[i:i + 2] for i in range(0, len(lines), 2)]
        if self.throttled:
            return self._client.bulk(*args, body=body, **kwargs)
        sent = [p for i, p in enumerate(pairs) if i % 2 == 0]
        self.throttled = len(pairs) - len(sent)
        real = self._client.bulk(*args, body=[line for pair in sent for line in pair], **kwargs)["items"]
        items, answers = [], iter(real)
        for i in range(len(pairs)):
            items.append(next(answers) if i % 2 == 0 else {"create": {"status": 429, "error": "throttled"}})
        return {"errors": True, "items": items, "took": 1}


def test_throttled_bulk_is_retried_with_backoff(opensearch_url: str, corpus: list[EncodedDocument]) -> None:
    backend = OpenSearchBackend(opensearch_url, _name("throttle"), initial_backoff=0.05, max_backoff=0.1)
    backend.create_index()
    try:
        backend.client = ThrottlingClient(backend.client)
        report = backend.index(corpus[:40])
        assert backend.client.throttled == 20
        assert (report.indexed, report.failures) == (40, [])
        assert backend.count() == 40
    finally:
        backend.delete_index()


def test_unreachable_cluster_is_one_line_without_credentials() -> None:
    backend = OpenSearchBackend("http://admin:s3cret@127.0.0.1:9", "docs", timeout=2)
    with pytest.raises(BackendError) as caught:
        backend.count()
    message = str(caught.value)
    assert "cannot reach OpenSearch at http://127.0.0.1:9" in message
    assert "s3cret" not in message and "admin" not in message and "\n" not in message


def test_invalid_settings_are_rejected() -> None:
    with pytest.raises(ConfigError):
        OpenSearchBackend("http://127.0.0.1:9", "Docs")
    with pytest.raises(ConfigError):
        OpenSearchBackend("http://127.0.0.1:9", "docs", query_mode="dense")


def test_existing_index_without_rank_features_is_refused(opensearch_url: str) -> None:
    name = _name("foreign")
    plain = OpenSearchBackend(opensearch_url, name)
    plain.client.indices.create(index=name, body={"mappings": {"properties": {"x": {"type": "keyword"}}}})
    try:
        with pytest.raises(BackendError, match="without a rank_features field"):
            plain.create_index()
    finally:
        plain.delete_index()
