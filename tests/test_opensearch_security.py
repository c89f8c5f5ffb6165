"""OpenSearch as users run it: the security plugin, TLS with our own CA, basic auth, least privilege.

The node (2.19.1, the one release with neural-search and security on Maven Central) gets a
CA and node certificate made for this session, an admin and an application user whose role
reads and writes only ``sparsedoc*`` indices (plus ML Commons and pipelines).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from opensearch_nodes import APP_INDEX_PREFIX, SecuredCluster
from sparse_corpus import random_corpus, random_queries

from sparsedoc.encoder.errors import BackendError
from sparsedoc.encoder.sparse_vector import SparseVector
from sparsedoc.plugin.base import EncodedDocument
from sparsedoc.plugin.opensearch.backend import OpenSearchBackend
from sparsedoc.plugin.opensearch.node.security import write_certificates

pytestmark = [pytest.mark.engine, pytest.mark.opensearch]

RANK_FEATURES_RELATIVE_ERROR = 2 ** -8


def _name(prefix: str = APP_INDEX_PREFIX) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _backend(cluster: SecuredCluster, index: str, user: str = "app", **kwargs: object) -> OpenSearchBackend:
    who = cluster.app if user == "app" else cluster.admin
    return OpenSearchBackend(cluster.url, index, http_auth=cluster.auth(who), ca_certs=cluster.ca_file,
                             **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def corpus() -> list[EncodedDocument]:
    return random_corpus()[:200]


@pytest.fixture(scope="module")
def app_index(secured_opensearch: SecuredCluster, corpus: list[EncodedDocument]) -> Iterator[OpenSearchBackend]:
    backend = _backend(secured_opensearch, _name())
    backend.create_index()
    report = backend.index(corpus)
    assert (report.indexed, report.failures) == (len(corpus), [])
    yield backend
    backend.delete_index()
    backend.close()


def _one_line_error(call: object) -> str:
    with pytest.raises(BackendError) as caught:
        call()  # type: ignore[operator]
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_app_user_ingests_and_searches_neural_sparse_over_tls(app_index: OpenSearchBackend,
                                                              corpus: list[EncodedDocument]) -> None:
    assert app_index.url.startswith("https://") and app_index.count() == len(corpus)
    assert app_index.query_mode == "neural_sparse"
    for query in random_queries(seed=3)[:5]:
        expected = sorted((query.dot(d.vector) for d in corpus if query.dot(d.vector) > 0), reverse=True)[:10]
        hits = app_index.search_sparse(query, k=10).hits
        assert [h.score for h in hits] == pytest.approx(expected, rel=2 * RANK_FEATURES_RELATIVE_ERROR)


def test_hybrid_search_over_tls_as_app_user(app_index: OpenSearchBackend) -> None:
    """BM25 + neural_sparse fused by a search pipeline the least-privilege user creates."""
    result = app_index.search_hybrid("zeppelin", SparseVector({"every": 1.0}), k=5)
    assert len(result.hits) == 5 and result.hits[0].doc_id == "0042"  # the only 'zeppelin' document


def test_wrong_password_is_one_line_401(secured_opensearch: SecuredCluster) -> None:
    wrong = "Wrong-Passw0rd-123!"
    backend = OpenSearchBackend(secured_opensearch.url, _name(), http_auth=(secured_opensearch.app.name, wrong),
                                ca_certs=secured_opensearch.ca_file)
    message = _one_line_error(backend.count)
    assert f"OpenSearch at {secured_opensearch.url} refused the credentials (HTTP 401)" in message
    assert wrong not in message


def test_untrusted_certificate_is_one_line_error(secured_opensearch: SecuredCluster, tmp_path: Path) -> None:
    other_ca = write_certificates(tmp_path / "other")  # a CA that did not sign the node's certificate
    backend = OpenSearchBackend(secured_opensearch.url, _name(), http_auth=secured_opensearch.auth(
        secured_opensearch.app), ca_certs=str(other_ca), timeout=5)
    message = _one_line_error(backend.count)
    assert "certificate is not trusted" in message and secured_opensearch.app.password not in message


def test_plain_http_to_the_tls_port_is_one_line_error(secured_opensearch: SecuredCluster) -> None:
    plain_url = secured_opensearch.url.replace("https://", "http://")
    backend = OpenSearchBackend(plain_url, _name(), http_auth=secured_opensearch.auth(secured_opensearch.app),
                                timeout=5)
    message = _one_line_error(backend.count)
    assert f"OpenSearch at {plain_url}" in message and "https://" in message
    assert secured_opensearch.app.password not in message


def test_app_user_cannot_touch_other_indices(secured_opensearch: SecuredCluster, corpus: list[EncodedDocument]) -> None:
    private = _backend(secured_opensearch, _name("private"), user="admin")
    private.create_index()
    private.index(corpus[:5])
    try:
        as_app = _backend(secured_opensearch, private.index_name)
        for call in (as_app.count, lambda: as_app.search_bm25("every"), as_app.create_index):
            message = _one_line_error(call)
            assert "HTTP 403" in message or "answered 403" in message, message
        other = _backend(secured_opensearch, _name("other"))
        message = _one_line_error(other.create_index)
        assert message.startswith(f"create index {other.index_name}: user '{secured_opensearch.app.name}' lacks "
                                  f"permission to do this at {secured_opensearch.url} (HTTP 403)"), message
        assert "unknown error" not in message
        assert private.count() == 5
    finally:
        private.delete_index()


def test_ml_commons_flow_over_tls_as_app_user(secured_opensearch: SecuredCluster, splade_tiny_dir: Path,
                                              tmp_path: Path) -> None:
    from sparsedoc.encoder.idf import compute_idf, save_idf
    from sparsedoc.encoder.idf_query_encoder import IdfQueryEncoder
    from sparsedoc.encoder.loading import load_tokenizer
    from sparsedoc.plugin.ml_commons.client import MlCommonsClient
    from sparsedoc.plugin.ml_commons.package import package_sparse_tokenizer

    texts = ["lift and drag of a wing", "heat transfer in a boundary layer", "buckling of shells"]
    idf = save_idf(compute_idf(texts, load_tokenizer(splade_tiny_dir)), tmp_path / "idf.json")
    package = package_sparse_tokenizer(splade_tiny_dir, idf, tmp_path / "pkg", name=_name("sparsedoc-tok"))
    with MlCommonsClient(secured_opensearch.url, http_auth=secured_opensearch.auth(secured_opensearch.app),
                         ca_certs=secured_opensearch.ca_file, timeout=240) as ml:
        model_id = ml.register(package, via="chunks")
        try:
            ml.deploy(model_id)
            got = ml.predict(model_id, ["wing lift"])[0]
            want = IdfQueryEncoder.from_files(splade_tiny_dir, idf, unknown_weight=1.0).encode_query(["wing lift"])[0]
            assert dict(got) == pytest.approx(dict(want), abs=1e-6)
        finally:
            ml.delete(model_id)


def _files_containing(root: Path, secret: str) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def test_credentials_never_leak(secured_opensearch: SecuredCluster, app_index: OpenSearchBackend,
                                tmp_path: Path) -> None:
    """Not in CLI output (even -vv debug logs), errors, node logs, node config or process command lines."""
    cluster = secured_opensearch
    env = {**os.environ, "SPARSEDOC_OPENSEARCH_PASSWORD": cluster.app.password}
    command = [sys.executable, "-m", "sparsedoc.cli.main", "-vv", "search", "zeppelin", "--bm25", "-k", "3",
               "--index", app_index.index_name, "--backend", "opensearch", "--url", cluster.url,
               "--user", cluster.app.name, "--ca-certs", cluster.ca_file]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "rank" in done.stdout
    wrong = subprocess.run(command, env={**env, "SPARSEDOC_OPENSEARCH_PASSWORD": "Wrong-Passw0rd-123!"},
                           capture_output=True, text=True, timeout=300)
    assert wrong.returncode == 1 and "refused the credentials (HTTP 401)" in wrong.stderr
    error_lines = [line for line in wrong.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1, wrong.stderr[-2000:]
    for secret in (cluster.app.password, cluster.admin.password):
        for text in (done.stdout, done.stderr, wrong.stdout, wrong.stderr):
            assert secret not in text
        assert _files_containing(cluster.node.run_dir, secret) == []
        assert _files_containing(cluster.node.data_dir, secret) == []
        pid = cluster.node.read_pid()
        assert pid and secret not in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        assert secret not in Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
    results = tmp_path / "health.json"
    results.write_text(json.dumps(cluster.node.status()))
    assert cluster.app.password not in results.read_text() and cluster.admin.password not in results.read_text()
