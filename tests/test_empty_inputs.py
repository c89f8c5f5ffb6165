"""Empty corpora and empty IDF tables are refused in one line naming the file, and leave nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from sparsedoc.cli.main import main
from sparsedoc.encoder.errors import ConfigError, InputError
from sparsedoc.encoder.idf import load_idf, save_idf
from sparsedoc.encoder.idf_query_encoder import IdfQueryEncoder


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error:")]


@pytest.mark.parametrize("content", ["", "\n  \n"])
def test_idf_of_an_empty_corpus_is_refused(content: str, tmp_path: Path, minilm_dir: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(content)
    assert main(["idf", str(corpus), "--model", str(minilm_dir), "--out", str(tmp_path / "idf.json")]) == 1
    assert _error_lines(capsys.readouterr().err) == [f"error: {corpus}: no documents"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.jsonl"]


def test_idf_of_a_corpus_without_text_is_refused(tmp_path: Path, minilm_dir: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"_id": "1", "text": ""}\n{"_id": "2", "text": " "}\n')
    assert main(["idf", str(corpus), "--model", str(minilm_dir), "--out", str(tmp_path / "idf.json")]) == 1
    (line,) = _error_lines(capsys.readouterr().err)
    assert line.startswith(f"error: {corpus}: no tokens in 2 documents")
    assert not (tmp_path / "idf.json").exists()


@pytest.mark.model
@pytest.mark.parametrize("command", ["index", "encode"])
def test_encoding_an_empty_corpus_is_refused(command: str, tmp_path: Path, tiny_mlm_dir: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("")
    target = (["--index", str(tmp_path / "idx")] if command == "index"
              else ["--out", str(tmp_path / "v.jsonl")])
    assert main([command, str(corpus), "--model", str(tiny_mlm_dir), *target]) == 1
    assert _error_lines(capsys.readouterr().err) == [f"error: {corpus}: no documents"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.jsonl"]


@pytest.mark.model
def test_a_corpus_whose_vectors_are_all_empty_is_refused(tmp_path: Path, tiny_mlm_dir: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Every text empty (the words are in another field): the run fails instead of indexing nothing."""
    corpus, out = tmp_path / "corpus.jsonl", tmp_path / "v.jsonl"
    corpus.write_text('{"_id": "1", "text": "", "body": "wing lift"}\n{"_id": "2", "text": "", "body": "drag"}\n')
    assert main(["encode", str(corpus), "--model", str(tiny_mlm_dir), "--out", str(out)]) == 1
    (line,) = _error_lines(capsys.readouterr().err)
    assert line.startswith(f"error: {out}: all 2 vectors are empty (2 documents without text")
    assert not out.exists()
    assert main(["encode", str(corpus), "--model", str(tiny_mlm_dir), "--out", str(out), "--text-field", "body"]) == 0


def test_indexing_vectors_that_are_all_empty_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Vectors a broken model wrote before it was refused (every one empty) are not indexed."""
    vectors = tmp_path / "v.jsonl"
    vectors.write_text('{"_id": "a", "text": "wing", "vector": {}}\n{"_id": "b", "text": "lift", "vector": {}}\n')
    assert main(["index", str(vectors), "--index", str(tmp_path / "idx")]) == 1
    assert _error_lines(capsys.readouterr().err) == [
        f"error: {vectors}: all 2 vectors are empty: an index of them would find nothing"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.jsonl"]


def test_an_idf_table_without_tokens_is_refused(tmp_path: Path, minilm_dir: Path) -> None:
    path = tmp_path / "idf.json"
    path.write_text("{}")
    with pytest.raises(InputError, match=f"^{path}: no tokens"):
        load_idf(path)
    with pytest.raises(InputError, match=f"^{path}: no tokens"):
        IdfQueryEncoder.from_files(minilm_dir, path)
    with pytest.raises(ConfigError, match="no tokens"):
        save_idf({}, tmp_path / "other.json")
    assert not (tmp_path / "other.json").exists()


def test_query_encoder_refuses_an_empty_table(bert_tokenizer) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError, match="no tokens"):
        IdfQueryEncoder(bert_tokenizer, {})
