"""The command line: help on every command, one-line errors naming file and line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sparsedoc.cli.main import cli, main

COMMANDS = ["idf", "encode", "index", "search", "eval", "quickstart", "assets", "opensearch", "opensearch start", "train", "adapt", "data pseudo-queries",
            "teachers score", "export-onnx", "quantize", "package",
            "deploy", "predict", "bench", "bench latency"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command.split(), "--help"]) == 0
    assert "Usage: sparsedoc" in capsys.readouterr().out


def test_malformed_corpus_gives_one_line_error(tmp_path: Path, minilm_dir: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"_id": "1", "text": "fine"}\n{"_id": "2", "text": oops}\n')
    done = subprocess.run(
        [sys.executable, "-m", "sparsedoc.cli.main", "idf", str(corpus), "--tokenizer", str(minilm_dir),
         "--out", str(tmp_path / "idf.json")],
        capture_output=True, text=True,
    )
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {corpus}:2: malformed JSON: Expecting value (column 22)"]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "idf.json").exists()


def test_idf_command_writes_table(tmp_path: Path, minilm_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"_id": "1", "text": "wing lift"}\n{"_id": "2", "text": "wing"}\n')
    assert main(["idf", str(corpus), "--tokenizer", str(minilm_dir), "--out", str(tmp_path / "idf.json")]) == 0
    assert "2 tokens" in capsys.readouterr().out


def test_importing_packages_does_no_heavy_work() -> None:
    code = ("import sys, sparsedoc.encoder.sparse_vector, sparsedoc.plugin.base, sparsedoc.ingest.readers, "
            "sparsedoc.cli.main; print(sorted(m for m in ('torch', 'jnius', 'opensearchpy', 'onnxruntime') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    assert cli.name == "cli"


def test_unreachable_opensearch_is_one_line(tmp_path: Path) -> None:
    vectors = tmp_path / "v.jsonl"
    vectors.write_text('{"_id": "a", "text": "x", "vector": {"x": 1.0}}\n')
    done = subprocess.run(
        [sys.executable, "-m", "sparsedoc.cli.main", "index", str(vectors), "--index", "docs",
         "--backend", "opensearch", "--url", "http://elastic:pw@127.0.0.1:9"],
        capture_output=True, text=True,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("error: create index docs: cannot reach OpenSearch at")
    assert "Traceback" not in done.stderr and ":pw@" not in done.stderr
