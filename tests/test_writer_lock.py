"""One writer per vectors cache, index and workspace: concurrent runs are refused, caches stay consistent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sparsedoc.cli.main import main
from sparsedoc.ingest.vectors_file import read_encoded

pytestmark = [pytest.mark.engine, pytest.mark.model]

N_DOCS = 20


def _corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"_id": str(i), "text": f"wing {i} lift drag"}) + "\n" for i in range(N_DOCS)))
    return corpus


def _sparsedoc(*args: object) -> list[str]:
    return [sys.executable, "-m", "sparsedoc.cli.main", *map(str, args)]


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


def _error_line(done: subprocess.CompletedProcess[str]) -> str:
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    return line


def _assert_indexed_once(index: Path, vectors: Path, lucene_backend_cls: type) -> None:
    ids = [str(i) for i in range(N_DOCS)]
    assert sorted(d.doc_id for d in read_encoded(vectors)) == sorted(ids)  # read_encoded refuses a repeated id
    with lucene_backend_cls(index) as engine:
        assert engine.count() == N_DOCS
        assert engine.existing_ids(ids) == set(ids)


def test_a_second_run_is_refused_while_the_first_holds_the_index(
    tmp_path: Path, tiny_mlm_dir: Path, lucene_backend_cls: type, capsys: pytest.CaptureFixture[str],
) -> None:
    corpus, index = _corpus(tmp_path), tmp_path / "idx"
    vectors, lock = tmp_path / "idx.vectors.jsonl", tmp_path / "idx.vectors.jsonl.lock"
    command = _sparsedoc("index", corpus, "--model", tiny_mlm_dir, "--index", index)
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while first.poll() is None and not (vectors.is_file() and f"pid {first.pid}" in _read(lock)):
            time.sleep(0.01)
        assert first.poll() is None, f"the first run was never seen holding {lock} with {vectors} written"
        os.kill(first.pid, signal.SIGSTOP)  # keep it mid-run (encoded, indexing), holding the lock
        for other in (command, _sparsedoc("encode", corpus, "--model", tiny_mlm_dir, "--out", vectors)):
            done = subprocess.run(other, capture_output=True, text=True)
            assert done.returncode == 1, done.stderr
            line = _error_line(done)
            assert line.startswith(f"error: {vectors} is in use by pid {first.pid} (")
            assert "sparsedoc.cli.main index" in line
        assert main(["index", str(vectors), "--index", str(tmp_path / "other")]) == 1  # reading it is refused too
        (line,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
        assert line.startswith(f"error: {vectors} is in use by pid {first.pid} (")
        assert not (tmp_path / "other").exists()
    finally:
        if first.returncode is None:
            os.kill(first.pid, signal.SIGCONT)
        out, err = first.communicate()
    assert first.returncode == 0, err
    assert f"{N_DOCS} in index" in out
    third = subprocess.run(command, capture_output=True, text=True)
    assert third.returncode == 0, third.stderr
    assert f"indexed 0, skipped {N_DOCS} already present; {N_DOCS} in index" in third.stdout
    _assert_indexed_once(index, vectors, lucene_backend_cls)
    assert not lock.exists()


def test_a_cache_that_cannot_be_repaired_is_refused_and_overwrite_clears_it(
    tmp_path: Path, tiny_mlm_dir: Path, lucene_backend_cls: type, capsys: pytest.CaptureFixture[str],
) -> None:
    corpus, index, vectors = _corpus(tmp_path), tmp_path / "idx", tmp_path / "idx.vectors.jsonl"
    command = ["index", str(corpus), "--model", str(tiny_mlm_dir), "--index", str(index)]
    assert main(command) == 0
    lines = vectors.read_text().splitlines(keepends=True)
    vectors.write_text(lines[0] + '{"_id": "3", "te{"_id": "4"\n' + "".join(lines[1:]))  # a line spliced mid-file
    capsys.readouterr()
    assert main(command) == 1
    (line,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert line.startswith(f"error: {vectors}:2: malformed JSON")
    assert line.endswith(f"remove it to encode again: rm {vectors}")
    assert main([*command, "--overwrite"]) == 0
    assert f"indexed {N_DOCS}, skipped 0 already present; {N_DOCS} in index" in capsys.readouterr().out
    _assert_indexed_once(index, vectors, lucene_backend_cls)


def test_eval_refuses_a_workspace_another_run_holds(tmp_path: Path, tiny_mlm_dir: Path) -> None:
    from sparsedoc.ingest.workspace import Workspace

    dataset = tmp_path / "tiny"
    (dataset / "qrels").mkdir(parents=True)
    _corpus(dataset)
    (dataset / "queries.jsonl").write_text('{"_id": "q1", "text": "wing"}\n')
    (dataset / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\t1\t1\n")
    workdir = tmp_path / "work"
    with Workspace(workdir / "tiny").locked():
        done = subprocess.run(_sparsedoc("eval", dataset, "--model", tiny_mlm_dir, "--workdir", workdir),
                              capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    assert _error_line(done).startswith(f"error: {workdir / 'tiny'} is in use by pid {os.getpid()} (")
