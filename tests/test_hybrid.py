"""Hybrid search fuses the same way on both engines: same fused top 10 on one corpus (real engines)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator

import pytest
from sparse_corpus import WORDS, random_corpus, random_queries

from sparsedoc.encoder.errors import BackendError
from sparsedoc.plugin.base import EncodedDocument, SearchResult
from sparsedoc.plugin.fusion import Fusion
from sparsedoc.plugin.opensearch.backend import OpenSearchBackend

pytestmark = [pytest.mark.engine, pytest.mark.opensearch]

# Fused scores differ between engines only through stored sparse weights (rank_features keeps
# 9 significant bits, Lucene impacts 0.01 steps); these bound the effect on a fused score. RRF
# sees only ranks: near-ties swap neighbours (a few 1e-4 each), and a document near a window's
# edge may be in one engine's window and not the other's (~0.009), so RRF is compared with
# windows holding every document.
TOLERANCE = {"min_max": 0.02, "rrf": 0.002}
FUSIONS = [Fusion("min_max", 0.3, window=50), Fusion("min_max", 0.8, window=50), Fusion("rrf", window=200)]


@pytest.fixture(scope="module")
def corpus() -> list[EncodedDocument]:
    return random_corpus()


@pytest.fixture(scope="module")
def engines(opensearch_url: str, lucene_backend_cls: type, corpus: list[EncodedDocument],
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    lucene = lucene_backend_cls(tmp_path_factory.mktemp("hybrid") / "idx")
    opensearch = OpenSearchBackend(opensearch_url, f"hybrid-{uuid.uuid4().hex[:8]}")
    for backend in (lucene, opensearch):
        assert not backend.index(corpus).failures
    yield lucene, opensearch
    opensearch.delete_index()
    opensearch.close()
    lucene.close()


def _same_top(a: SearchResult, b: SearchResult, tolerance: float) -> None:
    """Same fused scores for shared documents; others only where they tie with the 10th within tolerance."""
    assert len(a.hits) == len(b.hits) == 10
    scores_a, scores_b = a.scores(), b.scores()
    for doc_id in scores_a.keys() & scores_b.keys():
        assert scores_a[doc_id] == pytest.approx(scores_b[doc_id], abs=tolerance), doc_id
    tenth = min(a.hits[-1].score, b.hits[-1].score)
    for doc_id, score in {**scores_a, **scores_b}.items():
        if (doc_id in scores_a) != (doc_id in scores_b):
            assert score <= tenth + tolerance, (doc_id, a.hits, b.hits)


@pytest.mark.parametrize("fusion", FUSIONS, ids=lambda f: f.describe().replace(" ", "-"))
def test_both_engines_give_the_same_fused_top_10(engines: tuple, fusion: Fusion) -> None:
    lucene, opensearch = engines
    rng = random.Random(3)
    exact_lists = 0
    for vector in random_queries(count=15, seed=21):
        text = " ".join(rng.sample(WORDS, 3))
        from_lucene = lucene.search_hybrid(text, vector, k=10, fusion=fusion)
        from_opensearch = opensearch.search_hybrid(text, vector, k=10, fusion=fusion)
        _same_top(from_lucene, from_opensearch, TOLERANCE[fusion.method])
        exact_lists += from_lucene.doc_ids == from_opensearch.doc_ids
    assert exact_lists >= 10  # near-ties reorder a few lists, not most


def test_hybrid_sits_between_its_parts(engines: tuple) -> None:
    """Weight 1 (0) keeps the sparse (BM25) order among documents both lists found."""
    lucene, opensearch = engines
    vector = random_queries(count=1, seed=4)[0]
    for backend in (lucene, opensearch):
        sparse_only = backend.search_hybrid("wing lift", vector, k=10, fusion=Fusion(sparse_weight=1.0, window=200))
        assert sparse_only.doc_ids[:3] == backend.search_sparse(vector, k=3).doc_ids


class OlderClusterClient:
    """Wraps a real client; ``info()`` reports OpenSearch 2.17.0 (before score-ranker-processor)."""

    def __init__(self, client) -> None:  # noqa: ANN001
        self._client = client

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self._client, name)

    def info(self, **kwargs):  # noqa: ANN003, ANN201
        answer = self._client.info(**kwargs)
        return {**answer, "version": {**answer["version"], "number": "2.17.0"}}


def test_rrf_on_a_cluster_without_it_is_refused_clearly(opensearch_url: str) -> None:
    backend = OpenSearchBackend(opensearch_url, "unused")
    backend.client = OlderClusterClient(backend.client)
    with pytest.raises(BackendError, match=r"rrf fusion needs OpenSearch 2\.19\+, but .* runs 2\.17\.0"):
        backend.search_hybrid("wing", random_queries(count=1)[0], fusion=Fusion("rrf"))
