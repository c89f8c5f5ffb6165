"""The retrieval workflow through the CLI on a real embedded Lucene index and a real model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import write_cranfield_subset

from sparsedoc.cli.main import main

pytestmark = [pytest.mark.engine, pytest.mark.model]

N_DOCS = 120


@pytest.fixture(scope="module")
def small_cranfield(cranfield_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 120 Cranfield documents with the queries judged on them (BEIR layout)."""
    return write_cranfield_subset(cranfield_dir, tmp_path_factory.mktemp("cranfield-small"), N_DOCS)


@pytest.fixture(scope="module")
def second_collection(small_cranfield: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 60 documents of the small collection, under another folder name."""
    root = tmp_path_factory.mktemp("tiny") / "cranfield-tiny"
    shutil.copytree(small_cranfield, root)
    lines = (root / "corpus.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)[:60]
    (root / "corpus.jsonl").write_text("".join(lines), encoding="utf-8")
    return root


def test_eval_of_several_collections_prints_one_table_with_the_mean(
    small_cranfield: Path, second_collection: Path, splade_tiny_dir: Path, tmp_path: Path, lucene_backend_cls: type,
    capsys: pytest.CaptureFixture[str],
) -> None:
    workdir = tmp_path / "work"
    args = ["eval", str(small_cranfield), str(second_collection), "--model", str(splade_tiny_dir),
            "--workdir", str(workdir)]
    assert main(args) == 0
    out = capsys.readouterr().out
    for collection in (small_cranfield.name, second_collection.name, "mean"):
        assert [line for line in out.splitlines() if line.startswith(collection)], collection
    assert "inference-free sparse" in out and "hybrid" in out and "p50/BM25" in out
    assert "hybrid = min_max sparse 0.4," in out  # unsmoothed indexes: the unsmoothed default
    report = json.loads((workdir / "results.json").read_text())
    first, second = report["collections"]
    assert first["fusion"] == second["fusion"] == "min_max sparse 0.4"
    assert [m["name"] for m in first["methods"]] == ["BM25", "inference-free sparse", "hybrid"]
    assert first["document_sparsity"]["documents"] == N_DOCS and second["document_sparsity"]["documents"] == 60
    bm25, sparse, hybrid = first["methods"]
    assert sparse["metrics"]["nDCG@10"] > 0.3 and bm25["metrics"]["nDCG@10"] > 0.3 and hybrid["metrics"]["nDCG@10"] > 0.3
    assert hybrid["latency"]["p50_ms"] > 0 and hybrid["latency_ratio_to_bm25"]["p50_ms"] > 0
    mean = report["mean"]["hybrid"]["metrics"]["nDCG@10"]
    assert mean == pytest.approx((hybrid["metrics"]["nDCG@10"] + second["methods"][2]["metrics"]["nDCG@10"]) / 2)

    # A later run of one of them reuses its workspace: nothing is encoded or indexed twice. A given weight wins.
    assert main(["eval", str(small_cranfield), *args[3:], "--sparse-weight", "0.5"]) == 0
    assert "hybrid = min_max sparse 0.5," in capsys.readouterr().out
    again = json.loads((workdir / "results.json").read_text())["collections"][0]
    assert again["fusion"] == "min_max sparse 0.5"
    assert again["methods"][1]["metrics"] == sparse["metrics"]
    assert again["truncated_documents"] == first["truncated_documents"]
    assert sum(1 for _ in (workdir / small_cranfield.name / "vectors.jsonl").open()) == N_DOCS


def test_workspace_refuses_vectors_from_another_model(
    small_cranfield: Path, splade_tiny_dir: Path, tiny_mlm_dir: Path, tmp_path: Path, lucene_backend_cls: type,
    capsys: pytest.CaptureFixture[str],
) -> None:
    workdir = tmp_path / "work"
    (workdir / small_cranfield.name).mkdir(parents=True)
    (workdir / small_cranfield.name / "manifest.json").write_text(json.dumps(
        {"model": "other", "fingerprint": "0" * 16, "settings": {}}))
    assert main(["eval", str(small_cranfield), "--model", str(splade_tiny_dir), "--workdir", str(workdir)]) == 1
    assert "use another --workdir or --overwrite" in capsys.readouterr().err


def test_index_then_search_from_the_command_line(
    small_cranfield: Path, splade_tiny_dir: Path, tmp_path: Path, lucene_backend_cls: type,
    capsys: pytest.CaptureFixture[str],
) -> None:
    index = tmp_path / "index"
    idf = tmp_path / "idf.json"
    corpus = str(small_cranfield / "corpus.jsonl")
    assert main(["idf", corpus, "--model", str(splade_tiny_dir), "--out", str(idf)]) == 0
    assert main(["index", corpus, "--model", str(splade_tiny_dir), "--index", str(index)]) == 0
    assert f"{N_DOCS} in index" in capsys.readouterr().out
    assert main(["index", corpus, "--model", str(splade_tiny_dir), "--index", str(index)]) == 0
    assert f"indexed 0, skipped {N_DOCS} already present; {N_DOCS} in index" in capsys.readouterr().out
    query = "experimental investigation of the aerodynamics of a wing in a slipstream"
    assert main(["search", query, "--index", str(index), "--model", str(splade_tiny_dir),
                 "--idf", str(idf), "-k", "3"]) == 0
    sparse_lines = capsys.readouterr().out.splitlines()
    assert sparse_lines[2].split()[:2] == ["1", "1"]  # rank 1 is document "1", whose title this is
    assert main(["search", query, "--index", str(index), "--bm25", "--top-k", "3"]) == 0
    assert capsys.readouterr().out.splitlines()[2].split()[:2] == ["1", "1"]
    hybrid = ["search", query, "--index", str(index), "--model", str(splade_tiny_dir), "--idf", str(idf),
              "--hybrid", "-k", "3"]
    assert main(hybrid) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[2].split()[:2] == ["1", "1"]
    assert "hybrid: min_max sparse 0.4" in captured.err  # the default on an unsmoothed index
    assert main([*hybrid, "--sparse-weight", "0.4"]) == 0
    assert capsys.readouterr().out == captured.out
    assert main([*hybrid, "--sparse-weight", "0.9"]) == 0
    weighted = capsys.readouterr()
    assert "hybrid: min_max sparse 0.9" in weighted.err and weighted.out != captured.out
    assert main([*(a for a in hybrid if a != "--hybrid"), "--sparse-weight", "0.9"]) == 2
    assert "--sparse-weight is for --hybrid" in capsys.readouterr().err


def test_onnx_export_indexes_like_torch(
    small_cranfield: Path, splade_tiny_dir: Path, tmp_path: Path, lucene_backend_cls: type,
    capsys: pytest.CaptureFixture[str],
) -> None:
    onnx_dir = tmp_path / "onnx"
    corpus = str(small_cranfield / "corpus.jsonl")
    assert main(["export-onnx", "--model", str(splade_tiny_dir), "--out-dir", str(onnx_dir)]) == 0
    for name, model in (("torch", splade_tiny_dir), ("onnx", onnx_dir)):
        assert main(["index", corpus, "--model", str(model), "--index", str(tmp_path / name)]) == 0
    capsys.readouterr()
    torch_vectors = {json.loads(line)["_id"]: json.loads(line)["vector"]
                     for line in (tmp_path / "torch.vectors.jsonl").open()}
    for line in (tmp_path / "onnx.vectors.jsonl").open():
        record = json.loads(line)
        reference = torch_vectors[record["_id"]]
        assert set(record["vector"]) == set(reference)
        assert all(abs(weight - reference[token]) < 1e-4 for token, weight in record["vector"].items())
