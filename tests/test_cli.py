"""The command line: help on every command, one-line errors naming file and line."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import click
import pytest

from sparsedoc.cli.main import _register, cli, main
from sparsedoc.encoder.extras import EXTRA_OF_MODULE

COMMANDS = ["idf", "encode", "index", "search", "explain", "eval", "quickstart", "assets", "opensearch", "opensearch start", "train", "adapt",
            "data pseudo-queries", "teachers score", "export-onnx", "quantize", "ml-commons", "ml-commons package",
            "ml-commons deploy", "ml-commons predict", "bench", "bench latency"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command.split(), "--help"]) == 0
    assert "Usage: sparsedoc" in capsys.readouterr().out


def test_malformed_corpus_gives_one_line_error(tmp_path: Path, minilm_dir: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"_id": "1", "text": "fine"}\n{"_id": "2", "text": oops}\n')
    done = subprocess.run(
        [sys.executable, "-m", "sparsedoc.cli.main", "idf", str(corpus), "--model", str(minilm_dir),
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
    assert main(["idf", str(corpus), "--model", str(minilm_dir), "--out", str(tmp_path / "idf.json")]) == 0
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


def _options(command: click.Command) -> dict[str, click.Option]:
    return {name: p for p in command.params if isinstance(p, click.Option) for name in p.opts}


def _commands(group: click.Group = cli, prefix: str = "") -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        found[prefix + name] = command
        if isinstance(command, click.Group):
            found.update(_commands(command, f"{prefix}{name} "))
    return found


def test_options_are_spelled_one_way() -> None:
    _register()
    commands = _commands()
    assert not {"package", "deploy", "predict"} & set(cli.commands), "ML Commons commands live under ml-commons"
    for name, command in commands.items():
        options = _options(command)
        assert not {"--fresh", "--tokenizer", "--k", "--query-style"} & set(options), name
        if "--out" in options:
            assert options["--out"].type.dir_okay is False, f"{name}: --out is a file; folders are --out-dir"
        if "--out-dir" in options:
            assert options["--out-dir"].type.file_okay is False, name
    for name in ("search", "eval", "bench latency"):
        options = _options(commands[name])
        assert {"-k", "--top-k", "--text-field", "--vector-field", "--query-mode", "--model"} <= set(options), name
    for name in ("idf", "encode", "index", "eval", "quickstart", "export-onnx", "quantize", "ml-commons package"):
        assert "--model" in _options(commands[name]), name
    connection = ["--url", "--user", "--password", "--ca-certs", "--request-timeout"]
    for name in ("index", "search", "eval", "bench latency", "ml-commons deploy", "ml-commons predict"):
        assert all(o in _options(commands[name]) for o in connection), name


def test_every_optional_module_names_a_declared_extra() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert set(EXTRA_OF_MODULE.values()) <= set(pyproject["project"]["optional-dependencies"])


BLOCKED_RUN = ("import sys\nfor name in sys.argv[1].split(','): sys.modules[name] = None  # importing it now fails\n"
               "from sparsedoc.cli.main import main\nsys.exit(main(sys.argv[2:]))")
"""Run the CLI (argv after the blocked module names) as if those modules' extra were not installed."""


@pytest.mark.parametrize(("blocked", "extra", "purpose", "arguments"), [
    ("opensearchpy", "opensearch", "OpenSearch",
     ["search", "zeppelin", "--bm25", "--index", "docs", "--backend", "opensearch", "--url", "http://127.0.0.1:9"]),
    ("onnxruntime", "onnx", "quantize_int8", ["quantize", "--model", "{tmp}", "--out-dir", "{tmp}/int8"]),
    ("pydantic", "training", "this command", ["train", "{tmp}/config.yaml"]),  # imported at a module's top
    ("torch", "torch", "TorchDocumentEncoder", ["encode", "{tmp}/corpus.jsonl", "--model", "{tmp}", "--out", "{tmp}/v"]),
    ("jnius_config", "lucene", "the embedded Lucene engine",  # checked before encoding
     ["index", "{tmp}/corpus.jsonl", "--model", "{tmp}", "--index", "{tmp}/index"]),
])
def test_missing_extra_is_one_line_naming_it(tmp_path: Path, blocked: str, extra: str, purpose: str,
                                             arguments: list[str]) -> None:
    (tmp_path / "config.yaml").write_text("steps: 1\n")
    (tmp_path / "corpus.jsonl").write_text('{"_id": "1", "text": "wing lift"}\n')
    done = subprocess.run([sys.executable, "-c", BLOCKED_RUN, blocked, *(a.format(tmp=tmp_path) for a in arguments)],
                          capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error: {purpose} needs {blocked} from the '{extra}' extra: pip install 'sparsedoc[{extra}]'"]


@pytest.mark.engine
@pytest.mark.opensearch
def test_search_options_reach_opensearch(opensearch_url: str, tmp_path: Path, minilm_dir: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Field names, query mode and -k given on the command line are the ones the cluster is searched with."""
    import uuid

    from sparsedoc.encoder.sparse_vector import SparseVector
    from sparsedoc.plugin.base import EncodedDocument
    from sparsedoc.plugin.opensearch.backend import OpenSearchBackend

    index = f"cli-fields-{uuid.uuid4().hex[:8]}"
    backend = OpenSearchBackend(opensearch_url, index, text_field="body", vector_field="emb")
    try:
        backend.create_index()
        backend.index([EncodedDocument("wing", "swept wing lift", SparseVector({"wing": 2.0, "lift": 1.0})),
                       EncodedDocument("heat", "heat transfer", SparseVector({"heat": 2.0})),
                       EncodedDocument("both", "wing heat", SparseVector({"wing": 0.5, "heat": 0.5}))])
        (tmp_path / "idf.json").write_text('{"wing": 1.0, "lift": 1.0, "heat": 1.0}')
        common = ["--index", index, "--backend", "opensearch", "--url", opensearch_url, "--text-field", "body",
                  "--vector-field", "emb", "--top-k", "2"]
        for mode in ("rank_feature", "neural_sparse"):
            capsys.readouterr()
            assert main(["search", "wing lift", "--model", str(minilm_dir), "--idf", str(tmp_path / "idf.json"),
                         "--query-mode", mode, *common]) == 0
            rows = capsys.readouterr().out.splitlines()[2:]
            assert [row.split()[1] for row in rows] == ["wing", "both"], mode
        assert main(["search", "heat transfer", "--bm25", *common]) == 0
        assert [row.split()[1] for row in capsys.readouterr().out.splitlines()[2:]] == ["heat", "both"]
        assert main(["search", "heat transfer", "--bm25", *common[:6], "--top-k", "2"]) == 0  # default field: text
        assert capsys.readouterr().out.splitlines()[2:] == []
    finally:
        backend.delete_index()
        backend.close()


@pytest.mark.engine
@pytest.mark.parametrize(("method", "reorder"), [("exact", False), ("exact", True), ("two-phase", False),
                                                 ("seismic", False)])
def test_approximate_search_from_the_command_line(method: str, reorder: bool, tmp_path: Path, minilm_dir: Path,
                                                  lucene_backend_cls: type, capsys: pytest.CaptureFixture[str]) -> None:
    if method == "seismic":
        pytest.importorskip("seismic")  # the 'seismic' extra
    vectors, idf, index = tmp_path / "v.jsonl", tmp_path / "idf.json", tmp_path / "idx"
    vectors.write_text("".join(f'{{"_id": "d{i}", "text": "wing {i}", "vector": {{"wing": {i / 10}, "the": 0.5}}}}\n'
                               for i in range(1, 31)))
    idf.write_text('{"wing": 2.0, "the": 0.1}')
    assert main(["index", str(vectors), "--index", str(index), "--approximate", method,
                 *(["--reorder"] if reorder else [])]) == 0
    assert ("reordered in" in capsys.readouterr().err) == reorder
    assert main(["search", "the wing", "--index", str(index), "--model", str(minilm_dir), "--idf", str(idf),
                 "-k", "3", "--approximate", method]) == 0
    ranked = [line.split()[1] for line in capsys.readouterr().out.splitlines()[2:]]
    assert ranked == ["d30", "d29", "d28"]


def _interrupt_once_started(command: list[str], marker: bytes) -> tuple[list[str], str]:
    """Run ``command``, send SIGINT once ``marker`` (a progress bar) is on stderr; expect exit 130.

    Returns the lines that start with "interrupted" and the whole output (for failure messages).
    """
    # a test run started in the background (``nohup ... &``) inherits SIGINT ignored, and a Python child
    # that starts with SIGINT ignored never raises KeyboardInterrupt: give the child the default action
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = b""
    while marker not in seen:
        byte = run.stderr.read(1)
        assert byte, seen.decode(errors="replace")
        seen += byte
    run.send_signal(signal.SIGINT)
    _, rest = run.communicate(timeout=120)
    output = (seen + rest).decode()
    assert run.returncode == 130, output[-2000:]
    return [line for line in output.splitlines() if line.startswith("interrupted")], output


@pytest.mark.engine
def test_ctrl_c_while_indexing_says_what_was_written_and_a_rerun_resumes(tmp_path: Path,
                                                                       lucene_backend_cls: type) -> None:
    documents = 3000  # six index_encoded batches: several seconds of Lucene writes after the bar appears
    vectors = tmp_path / "v.jsonl"
    vectors.write_text("".join(f'{{"_id": "d{i}", "text": "wing {i}", "vector": {{"wing": {1 + i % 7}, '
                               f'"t{i % 50}": 0.5}}}}\n' for i in range(documents)))
    command = [sys.executable, "-m", "sparsedoc.cli.main", "index", str(vectors), "--index", str(tmp_path / "idx")]
    # the progress bar: the JVM is up and the first batch is being written
    lines, output = _interrupt_once_started(command, b"indexing:")
    assert len(lines) == 1, output[-2000:]
    match = re.fullmatch(r"interrupted: (\d+) documents were indexed and 0 already there; rerun the same command "
                         r"to resume \(ids already indexed are skipped\)", lines[0])
    assert match, lines[0]
    resumed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    indexed, skipped = map(int, re.search(r"indexed (\d+), skipped (\d+)", resumed.stdout).groups())
    assert indexed + skipped == documents and skipped >= int(match.group(1))
    assert resumed.stdout.strip().endswith(f"{documents} in index")


@pytest.mark.model
def test_ctrl_c_while_encoding_says_what_the_vectors_file_holds(tmp_path: Path, tiny_mlm_dir: Path) -> None:
    documents = 300
    corpus, vectors = tmp_path / "corpus.jsonl", tmp_path / "v.jsonl"
    corpus.write_text("".join(f'{{"_id": "d{i}", "text": "{"lift of a swept wing " * (3 + i % 10)}"}}\n'
                              for i in range(documents)))
    command = [sys.executable, "-m", "sparsedoc.cli.main", "encode", str(corpus), "--model", str(tiny_mlm_dir),
               "--out", str(vectors), "--batch-size", "4"]
    # the progress bar: the model is loaded, the first chunk is being encoded
    lines, output = _interrupt_once_started(command, b"encoding:")
    assert len(lines) == 1 and re.fullmatch(
        rf"interrupted: {re.escape(str(vectors))} holds \d+ encoded documents; rerun the same command to resume "
        r"\(documents already encoded are skipped\)", lines[0]), output[-2000:]
    resumed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert len(vectors.read_text().splitlines()) == documents


def test_reorder_is_refused_on_opensearch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    vectors = tmp_path / "v.jsonl"
    vectors.write_text('{"_id": "a", "text": "x", "vector": {"x": 1.0}}\n')
    assert main(["index", str(vectors), "--index", "docs", "--backend", "opensearch", "--url", "http://127.0.0.1:9",
                 "--reorder"]) != 0
    assert "--reorder is for the lucene backend" in capsys.readouterr().err


def test_seismic_is_refused_on_opensearch(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["search", "wing", "--index", "docs", "--bm25", "--backend", "opensearch",
                 "--url", "http://127.0.0.1:9", "--approximate", "seismic"])
    assert code != 0
    assert "--approximate seismic is embedded (lucene) only" in capsys.readouterr().err
