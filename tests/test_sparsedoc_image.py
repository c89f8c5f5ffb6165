"""The sparsedoc image (docker/Dockerfile, built on CI's local Debian base): the CLI without
PyTorch indexes with an ONNX model into a real OpenSearch on 127.0.0.1 and searches it."""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path

import pytest
from conftest import SHARED_DATA
from opensearch_containers import sparsedoc_image

pytestmark = [pytest.mark.engine, pytest.mark.opensearch, pytest.mark.model]


@pytest.fixture(scope="module")
def image(container_base: str) -> str:
    return sparsedoc_image(container_base)


def _run(image: str, *args: str, mounts: dict[Path, str] | None = None, entrypoint: str | None = None) -> str:
    command = ["docker", "run", "--rm", "--network", "host"]
    for host, inside in (mounts or {}).items():
        command += ["-v", f"{host}:{inside}:ro"]
    command += [*(["--entrypoint", entrypoint] if entrypoint else []), image, *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(args)} failed: {done.stderr[-2000:]}"
    return done.stdout


def test_image_cli_runs_without_torch(image: str) -> None:
    assert "Usage: sparsedoc" in _run(image, "--help")
    found = _run(image, "-c", "import importlib.util as u; print([bool(u.find_spec(m)) for m in "
                 "('torch', 'onnxruntime', 'opensearchpy')])", entrypoint="python")
    assert found.strip() == "[False, True, True]"


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory: pytest.TempPathFactory, splade_tiny_dir: Path) -> Path:
    from sparsedoc.encoder.onnx_export import export_onnx

    directory = tmp_path_factory.mktemp("image-onnx")
    export_onnx(splade_tiny_dir, directory, overwrite=True)
    return directory


def test_image_indexes_and_searches_opensearch(image: str, opensearch_url: str, onnx_dir: Path,
                                               tmp_path: Path) -> None:
    with (SHARED_DATA / "cranfield" / "corpus.jsonl").open(encoding="utf-8") as corpus:
        lines = list(itertools.islice(corpus, 40))
    (tmp_path / "corpus.jsonl").write_text("".join(lines), encoding="utf-8")
    target = json.loads(lines[7])
    mounts = {onnx_dir: "/model", tmp_path: "/data"}
    connection = ["--backend", "opensearch", "--url", opensearch_url]
    indexed = _run(image, "index", "/data/corpus.jsonl", "--model", "/model", "--index", "sparsedoc-image",
                   "--vectors", "/tmp/vectors.jsonl", "--overwrite", *connection, mounts=mounts)
    assert "40 in index" in indexed
    # idf and search in one container: the IDF table lives in its /tmp
    script = ("sparsedoc idf /data/corpus.jsonl --model /model --out /tmp/idf.json >/dev/null && "
              f"sparsedoc search \"$1\" --index sparsedoc-image --model /model --idf /tmp/idf.json -k 3 "
              f"--backend opensearch --url {opensearch_url}")
    table = _run(image, "-c", script, "sh", target["title"], mounts=mounts, entrypoint="sh")
    ranked = [line.split()[1] for line in table.splitlines()[2:] if line.strip()]
    assert ranked[0] == target["_id"], table
