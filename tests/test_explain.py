"""``Backend.explain`` and ``sparsedoc explain`` on both engines: the token table sums to the engine's score."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sparse_corpus import random_corpus, random_queries

from sparsedoc.cli.main import main
from sparsedoc.encoder.errors import BackendError
from sparsedoc.encoder.sparse_vector import SparseVector
from sparsedoc.plugin.base import Backend, EncodedDocument

pytestmark = pytest.mark.engine

ENGINES = ["lucene", pytest.param("opensearch", marks=pytest.mark.opensearch)]
LUCENE_SCALE = 100.0
RANK_FEATURES_RELATIVE_ERROR = 2 ** -8  # 9 significant bits
TEXT = "zeppelin wing lift"


def _open(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "lucene":
        return request.getfixturevalue("lucene_backend_cls")(tmp_path / "idx", impact_scale=LUCENE_SCALE)
    from sparsedoc.plugin.opensearch.backend import OpenSearchBackend

    return OpenSearchBackend(request.getfixturevalue("opensearch_url"), f"explain-{uuid.uuid4().hex[:8]}")


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Backend]]:
    backend = _open(request, tmp_path)
    yield request.param, backend
    backend.delete_index()
    backend.close()


def _stored_close(engine: str, stored: float, written: float) -> bool:
    if engine == "lucene":  # impacts round to 1 / scale
        return abs(stored - written) <= 0.5 / LUCENE_SCALE
    return written * (1 - RANK_FEATURES_RELATIVE_ERROR) <= stored <= written


def test_token_contributions_sum_to_the_search_score(engine: tuple[str, Backend]) -> None:
    name, backend = engine
    corpus = random_corpus()
    backend.index(corpus)
    by_id = {d.doc_id: d for d in corpus}
    for query in random_queries(count=5):
        if name == "opensearch":  # rank_feature mode cannot address tokens with '.' (neural_sparse can)
            assert backend.query_mode == "neural_sparse"  # type: ignore[attr-defined]
        for hit in backend.search_sparse(query, k=5).hits:
            explanation = backend.explain(TEXT, query, hit.doc_id)
            assert explanation.doc_id == hit.doc_id and explanation.dropped_tokens == 0
            assert explanation.total == pytest.approx(hit.score, rel=1e-5)
            assert explanation.sparse_score == pytest.approx(hit.score, rel=1e-6)
            document = by_id[hit.doc_id].vector
            assert {m.token for m in explanation.matches} <= set(query) & set(document)
            for match in explanation.matches:
                assert match.query_weight == pytest.approx(query[match.token], rel=1e-6)
                assert _stored_close(name, match.document_weight, document[match.token]), match
            contributions = [m.contribution for m in explanation.matches]
            assert contributions == sorted(contributions, reverse=True)
    for hit in backend.search_bm25(TEXT, k=3).hits:
        explanation = backend.explain(TEXT, SparseVector(), hit.doc_id)
        assert explanation.bm25_score == pytest.approx(hit.score, rel=1e-5)
        assert explanation.matches == () and explanation.total == explanation.sparse_score == 0.0
        assert "zeppelin" not in explanation.bm25.render() or hit.doc_id == "0042"


def test_a_document_matching_nothing_and_a_missing_document(engine: tuple[str, Backend]) -> None:
    _, backend = engine
    backend.index([EncodedDocument("a", "wing lift", SparseVector({"wing": 1.0})),
                   EncodedDocument("b", "drag", SparseVector({"drag": 2.0}))])
    explanation = backend.explain("wing", SparseVector({"wing": 3.0}), "b")
    assert (explanation.matches, explanation.sparse_score, explanation.bm25_score) == ((), 0.0, 0.0)
    with pytest.raises(BackendError, match="no document 'nope'"):
        backend.explain("wing", SparseVector({"wing": 3.0}), "nope")


@pytest.fixture(params=ENGINES)
def cli_index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[str]]:
    """An index of three documents, and the command-line options that reach it."""
    backend = _open(request, tmp_path)
    backend.index([EncodedDocument("wing", "swept wing lift", SparseVector({"wing": 1.2, "lift": 0.7, "drag": 0.3})),
                   EncodedDocument("heat", "heat transfer", SparseVector({"heat": 2.0})),
                   EncodedDocument("both", "wing heat", SparseVector({"wing": 0.5, "heat": 0.5}))])
    if request.param == "lucene":
        backend.close()  # the command opens the index itself
        yield ["--index", str(tmp_path / "idx")]
    else:
        yield ["--index", backend.index_name, "--backend", "opensearch", "--url", backend.url]  # type: ignore[attr-defined]
    backend.delete_index()
    backend.close()


def test_explain_command_prints_the_table_total_and_bm25(cli_index: list[str], minilm_dir: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    idf = tmp_path / "idf.json"
    idf.write_text('{"wing": 2.0, "lift": 3.0, "heat": 1.0}')
    query = ["the lift of a swept wing", "--model", str(minilm_dir), "--idf", str(idf), *cli_index]
    assert main(["search", *query]) == 0
    scores = {row.split()[1]: float(row.split()[2]) for row in capsys.readouterr().out.splitlines()[2:]}
    assert main(["explain", *query, "--doc", "wing"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split()[:2] == ["token", "query"]
    assert [line.split()[0] for line in out[3:5]] == ["wing", "lift"]  # 2.0 * 1.2 = 2.4, then 3.0 * 0.7 = 2.1
    total = next(line for line in out if line.startswith("total "))
    assert float(total.split()[1]) == pytest.approx(scores["wing"], abs=1e-3)
    assert "over 2 matched tokens" in total
    bm25 = out.index(next(line for line in out if line.startswith("document wing: BM25")))
    assert "sum of" in out[bm25 + 1] and any("weight(" in line for line in out[bm25 + 1:])
    assert main(["explain", *query, "--doc", "nope"]) == 1
    assert "error: no document 'nope'" in capsys.readouterr().err
