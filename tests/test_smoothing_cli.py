"""Dense-neighbour smoothing through the CLI on embedded Lucene: index, search, eval with an automatic choice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import write_cranfield_subset

from sparsedoc.cli.main import main
from sparsedoc.ingest.vectors_file import read_encoded

pytestmark = [pytest.mark.engine, pytest.mark.model]


@pytest.fixture(scope="module")
def small_collection(cranfield_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 80 Cranfield documents and the test queries judged on them (BEIR layout)."""
    return write_cranfield_subset(cranfield_dir, tmp_path_factory.mktemp("smooth") / "cranfield-80", 80)


def _run(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[str, str]:
    code = main([*arguments])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out, captured.err


def test_index_with_neighbours_smooths_records_and_refuses_mixing(
        small_collection: Path, splade_tiny_dir: Path, minilm_dir: Path, tmp_path: Path, lucene_backend_cls: type,
        capsys: pytest.CaptureFixture[str]) -> None:
    index = tmp_path / "idx"
    corpus = str(small_collection / "corpus.jsonl")
    _, err = _run(capsys, "index", corpus, "--model", str(splade_tiny_dir), "--index", str(index),
                  "--neighbours", "2", "--neighbour-model", str(minilm_dir), "--max-length", "128")
    assert "smoothed 80" in err
    raw = {d.doc_id: d.vector for d in read_encoded(Path(f"{index}.vectors.jsonl"))}
    (smoothed_file,) = tmp_path.glob("idx.vectors.jsonl.smoothed-*.jsonl")
    smoothed = {d.doc_id: d.vector for d in read_encoded(smoothed_file)}
    assert set(raw) == set(smoothed)
    grown = [doc_id for doc_id in raw if set(smoothed[doc_id]) - set(raw[doc_id])]
    assert len(grown) > 60  # neighbours lend tokens to (nearly) every document
    assert all(len(smoothed[d]) <= int(1.5 * len(raw[d])) for d in raw)  # the default growth cap
    _, err = _run(capsys, "search", "lift of a wing", "--index", str(index), "--bm25")
    assert "index built with dense-neighbour smoothing" in err
    _run(capsys, "idf", corpus, "--model", str(splade_tiny_dir), "--out", str(tmp_path / "idf.json"))
    hybrid = ["search", "lift of a wing", "--index", str(index), "--model", str(splade_tiny_dir),
              "--idf", str(tmp_path / "idf.json"), "--hybrid"]
    _, err = _run(capsys, *hybrid)
    assert "hybrid: min_max sparse 0.5" in err  # the default on a smoothed index
    _, err = _run(capsys, *hybrid, "--sparse-weight", "0.4")
    assert "hybrid: min_max sparse 0.4" in err
    code = main(["index", corpus, "--model", str(splade_tiny_dir), "--index", str(index), "--neighbours", "0",
                 "--max-length", "128"])
    assert code == 1 and "built with smoothing additive k=2" in capsys.readouterr().err


def test_eval_auto_chooses_on_pseudo_queries_and_reports_the_choice(
        small_collection: Path, splade_tiny_dir: Path, minilm_dir: Path, tmp_path: Path, lucene_backend_cls: type,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "results.json"
    _, err = _run(capsys, "eval", str(small_collection), "--model", str(splade_tiny_dir), "--workdir",
                  str(tmp_path / "w"), "--neighbours", "auto", "--neighbour-model", str(minilm_dir),
                  "--max-length", "128", "--out", str(out))
    assert "held-out pseudo-queries (no labels)" in err and "MRR@10" in err
    choice = json.loads((tmp_path / "w" / "cranfield-80" / "smoothing-choice.json").read_text())
    assert len(choice["candidates"]) == 6 and choice["queries"] > 0
    (collection,) = json.loads(out.read_text())["collections"]
    chosen = choice["chosen"]
    assert (collection["smoothing"] == "none") == (chosen["neighbours"] == 0)
    assert collection["fusion"] == ("min_max sparse 0.4" if chosen["neighbours"] == 0 else "min_max sparse 0.5")
