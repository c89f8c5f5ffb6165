"""Engine tests: a real official OpenSearch node started natively by plugin/opensearch/node/local.py."""

from __future__ import annotations

import json
import os
import struct
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FAST_START, engine_unavailable, free_port

from sparsedoc.encoder.errors import LocalNodeError
from sparsedoc.plugin.opensearch.node import local as ln
from sparsedoc.plugin.opensearch.node.process import pid_alive, port_free
from sparsedoc.plugin.opensearch.node.release import DEFAULT_VERSION

pytestmark = pytest.mark.engine

INDEX = "sparsedoc-local-node-test"
DOCS: dict[str, dict[str, float]] = {
    "1": {"hello": 1.5, "world": 0.3, "sparse": 2.25},
    "2": {"hello": 0.7, "retrieval": 3.1},
    "3": {"world": 1.9, "sparse": 0.123, "retrieval": 0.5},
}
QUERY: dict[str, float] = {"hello": 6.69, "world": 1.25, "retrieval": 0.5}


def _req(url: str, method: str = "GET", body: Any = None) -> Any:
    data = None
    headers = {"Content-Type": "application/json"}
    if isinstance(body, str):
        data, headers["Content-Type"] = body.encode(), "application/x-ndjson"
    elif body is not None:
        data = json.dumps(body).encode()
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(urllib.request.Request(url, data=data, method=method, headers=headers), timeout=60) as r:
            return json.loads(r.read() or b"null")
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"{method} {url} -> {exc.code}: {exc.read()[:2000]!r}") from exc


def _feature_value(x: float) -> float:
    """What Lucene's FeatureField stores: the float's top bits (9 significant bits), truncated."""
    bits = struct.unpack(">I", struct.pack(">f", x))[0]
    return struct.unpack(">f", struct.pack(">I", (bits >> 15) << 15))[0]


def _expected(doc: dict[str, float], query: dict[str, float], quantize: bool = True) -> float:
    f = _feature_value if quantize else float
    return sum(w * f(doc[t]) for t, w in query.items() if t in doc)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    home = Path(os.environ.get("SPARSEDOC_OPENSEARCH_HOME", ln.default_home()))
    n = ln.LocalOpenSearchNode(home=home, port=free_port(), data_dir=tmp_path_factory.mktemp("os-data"),
                               heap="1g", java_opts=FAST_START)
    try:
        n.java()
    except LocalNodeError as exc:
        engine_unavailable(f"no Java for OpenSearch: {exc}")
    n.start(timeout=300)
    yield n
    n.stop()


@pytest.fixture(scope="module")
def indexed(node: Any) -> Any:
    url = node.url
    _req(f"{url}/{INDEX}", "PUT", {"settings": {"number_of_shards": 1, "number_of_replicas": 0},
                                   "mappings": {"properties": {"emb": {"type": "rank_features"}}}})
    bulk = "".join(json.dumps({"index": {"_index": INDEX, "_id": i}}) + "\n" + json.dumps({"emb": d}) + "\n"
                   for i, d in DOCS.items())
    res = _req(f"{url}/_bulk?refresh=true", "POST", bulk)
    assert not res["errors"], res
    return node


def _scores(url: str, query: dict[str, Any]) -> dict[str, float]:
    res = _req(f"{url}/{INDEX}/_search", "POST", {"query": query, "size": 10})
    return {h["_id"]: h["_score"] for h in res["hits"]["hits"]}


def _check_scores(scores: dict[str, float]) -> None:
    expected = {i: _expected(d, QUERY) for i, d in DOCS.items() if _expected(d, QUERY) > 0}
    assert set(scores) == set(expected)
    for i, want in expected.items():
        assert scores[i] == pytest.approx(want, rel=1e-5), (i, scores[i], want)
        # and within rank_features' 9-bit precision of the exact dot product
        assert scores[i] == pytest.approx(_expected(DOCS[i], QUERY, quantize=False), rel=2 ** -8)


def test_version_and_plugins(node: Any) -> None:
    assert _req(node.url + "/")["version"]["number"] == DEFAULT_VERSION
    components = {row["component"] for row in _req(node.url + "/_cat/plugins?format=json")}
    assert {"opensearch-neural-search", "opensearch-ml", "opensearch-knn", "opensearch-job-scheduler"} <= components
    st = node.status()
    assert st["running"] and st["pid"] and st["version"] == DEFAULT_VERSION
    assert node.pid_file.read_text().strip() == str(st["pid"])
    settings = _req(node.url + "/_cluster/settings")["persistent"]
    assert settings["plugins"]["ml_commons"]["only_run_on_ml_node"] == "false"


def test_neural_sparse_query_tokens_is_dot_product(indexed: Any) -> None:
    scores = _scores(indexed.url, {"neural_sparse": {"emb": {"query_tokens": QUERY}}})
    _check_scores(scores)


def test_rank_feature_bool_should_is_dot_product(indexed: Any) -> None:
    should = [{"rank_feature": {"field": f"emb.{t}", "linear": {}, "boost": w}} for t, w in QUERY.items()]
    scores = _scores(indexed.url, {"bool": {"should": should}})
    _check_scores(scores)
    assert scores == pytest.approx(_scores(indexed.url, {"neural_sparse": {"emb": {"query_tokens": QUERY}}}))


def test_sigkill_and_restart_keeps_documents(indexed: Any) -> None:
    node = indexed
    pid = node.read_pid()
    assert pid
    node.kill()
    assert not node.is_running()
    node.start(timeout=300)
    assert node.read_pid() != pid
    _req(f"{node.url}/_cluster/health/{INDEX}?wait_for_status=green&timeout=60s")
    assert _req(f"{node.url}/{INDEX}/_count")["count"] == len(DOCS)
    _check_scores(_scores(node.url, {"neural_sparse": {"emb": {"query_tokens": QUERY}}}))


def test_start_refuses_taken_port(node: Any, tmp_path: Path) -> None:
    other = ln.LocalOpenSearchNode(home=node.home, port=node.port, transport_port=free_port(),
                                   data_dir=tmp_path / "d")
    other.run_dir = tmp_path / "run"  # a different PID file: the port belongs to someone else
    other.pid_file = other.run_dir / "opensearch.pid"
    with pytest.raises(LocalNodeError, match="already in use"):
        other.start(timeout=30, port_wait=1.0)


def test_stop(node: Any) -> None:
    pid = node.read_pid()
    assert pid
    node.stop()
    assert not pid_alive(pid)
    assert not node.pid_file.exists()
    assert port_free(node.port)
    assert node.status()["running"] is False
