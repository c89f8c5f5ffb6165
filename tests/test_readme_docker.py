"""The README's secured Docker path, run as a user would: the fenced block after the
``readme-test: secured-docker`` marker goes to bash unchanged, with only the settings the README
documents (ports, the demo folder, the corpus) taken from the environment. It builds the images
with scripts/docker-images.sh (no registry pull), brings docker-compose.yml +
docker-compose.secure-local.yml up, indexes and searches as the least-privilege user over TLS,
and takes the stack down. scripts/docker-images.sh also fails in one line when no engine answers."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import free_port
from opensearch_containers import PROJECT_LABEL, ROOT

MARKER = "<!-- readme-test: secured-docker -->"
PROJECT = "sparsedoc-secure"  # the name in docker/docker-compose.yml
DOCUMENTS = {
    "1": "experimental investigation of the aerodynamics of a wing in a slipstream",
    "2": "simple shear flow past a flat plate in an incompressible fluid of small viscosity",
    "3": "the boundary layer in simple shear flow past a flat plate",
    "4": "approximate solutions of the incompressible laminar boundary layer equations for a plate in shear flow",
    "5": "one-dimensional transient heat conduction into a double-layer slab subjected to a linear heat input",
    "6": "the flutter of a swept wing at transonic speeds",
    "7": "propeller slipstream effects on the lift of a wing at low speed",
    "8": "buckling of thin cylindrical shells under axial compression",
}


def readme_block() -> str:
    """The fenced bash block right after the marker in README.md."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(re.escape(MARKER) + r"\n```bash\n(.*?)\n```\n", text, re.DOTALL)
    assert found, f"README.md: no ```bash block right after {MARKER}"
    return found.group(1) + "\n"


def _docker_ids(kind: str) -> list[str]:
    args = ["docker", kind, "ls", "-q", *(["-a"] if kind == "container" else []),
            "--filter", f"label={PROJECT_LABEL}={PROJECT}"]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout.split()


def _remove_project() -> None:
    """What a failed run of the block left (containers first, then their volumes and networks)."""
    for kind, remove in (("container", ["rm", "-f"]), ("volume", ["volume", "rm"]), ("network", ["network", "rm"])):
        ids = _docker_ids(kind)
        if ids:
            subprocess.run(["docker", *remove, *ids], capture_output=True)


def test_readme_block_is_bash_with_its_documented_settings() -> None:
    block = readme_block()
    parsed = subprocess.run(["bash", "-n"], input=block, capture_output=True, text=True)
    assert parsed.returncode == 0, parsed.stderr
    read = set(re.findall(r"\$\{(\w+):-", block))  # the settings a user may change
    assert read == {"OPENSEARCH_HTTP_PORT", "OPENSEARCH_TRANSPORT_PORT", "SPARSEDOC_DEMO_DIR", "SPARSEDOC_DEMO_CORPUS"}
    section = (ROOT / "README.md").read_text(encoding="utf-8").split(MARKER)[0][-2000:]
    assert all(f"`{name}`" in section for name in read)  # documented right above the block


def test_docker_images_without_an_engine_fails_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run([str(ROOT / "scripts" / "docker-images.sh")], capture_output=True, text=True,
                          env={**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/none.sock"}, timeout=60)
    assert done.returncode == 1
    assert done.stdout == "false\n"  # so `eval "$(scripts/docker-images.sh)"` fails too
    assert done.stderr.splitlines() == [f"[docker-images] error: no Docker engine answers (docker version; "
                                        f"DOCKER_HOST=unix://{tmp_path}/none.sock)"]


@pytest.fixture
def demo_settings(container_base: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The README's documented settings, pointed at free ports, this test's folder and a small corpus."""
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"_id": doc_id, "title": "", "text": text}) + "\n"
                              for doc_id, text in DOCUMENTS.items()), encoding="utf-8")
    port = free_port()
    assert not _docker_ids("container"), f"a compose project {PROJECT} is already running"
    try:
        yield {"OPENSEARCH_HTTP_PORT": str(port), "OPENSEARCH_TRANSPORT_PORT": str(port + 100),
               "SPARSEDOC_DEMO_DIR": str(tmp_path / "demo"), "SPARSEDOC_DEMO_CORPUS": str(corpus)}
    finally:
        _remove_project()


@pytest.mark.engine
@pytest.mark.opensearch
def test_readme_secured_docker_block_runs_as_written(demo_settings: dict[str, str]) -> None:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # this clone's `sparsedoc`
    done = subprocess.run(["bash", "-euo", "pipefail"], input=readme_block(), cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, "PATH": path, **demo_settings}, timeout=1500)
    assert done.returncode == 0, done.stderr[-4000:]
    demo = Path(demo_settings["SPARSEDOC_DEMO_DIR"])
    assert done.stdout.splitlines()[0] == str(demo / "security" / "root-ca.pem")  # security-config's CA
    assert f"indexed {len(DOCUMENTS)}, skipped 0 already present; {len(DOCUMENTS)} in index" in done.stdout
    lines = done.stdout.splitlines()
    header = lines.index(next(line for line in lines if line.split() == ["rank", "doc_id", "score"]))
    rows = [line.split() for line in lines[header + 2:]]  # the search's table, its last output
    assert [row[0] for row in rows] == ["1", "2", "3"]
    assert rows[0][1] == "1"  # the query is its text
    assert {kind: _docker_ids(kind) for kind in ("container", "volume", "network")} == {
        "container": [], "volume": [], "network": []}  # the block's `down -v`
    images = subprocess.run(["docker", "image", "ls", "--format", "{{json .}}"], capture_output=True, text=True,
                            check=True).stdout.splitlines()
    repositories = {json.loads(line)["Repository"] for line in images}
    assert repositories <= {"local/sparsedoc-base", "local/sparsedoc-opensearch", "local/sparsedoc",
                            "sparsedoc-opensearch", "<none>"}  # built here, nothing pulled
