"""Corpus, query and qrels readers: bad input gives one error naming file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from sparsedoc.encoder.errors import InputError
from sparsedoc.ingest.readers import BeirDataset, read_documents, read_qrels, read_queries
from sparsedoc.ingest.readers import Document


def _write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_reads_beir_corpus_with_numeric_ids_and_empty_text(tmp_path: Path) -> None:
    corpus = _write(tmp_path / "corpus.jsonl", '{"_id": 7, "title": "T", "text": "body"}\n\n{"_id": "b", "text": ""}\n')
    assert list(read_documents(corpus)) == [Document("7", "body", "T"), Document("b", "", "")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"_id": "a", "text": "x"}\n{"_id": "b", "text": "y"\n', r"corpus.jsonl:2: malformed JSON"),
        ('{"_id": "a", "text": "x"}\n{"text": "y"}\n', r"corpus.jsonl:2: field '_id': missing"),
        ('{"_id": "a"}\n', r"corpus.jsonl:1: field 'text': missing"),
        ('{"_id": "a", "text": ["x"]}\n', r"corpus.jsonl:1: field 'text': expected a string"),
        ('{"_id": "a", "text": "x"}\n{"_id": "a", "text": "y"}\n', r"corpus.jsonl:2: field '_id': duplicate id 'a' \(first on line 1\)"),
        ('[1, 2]\n', r"corpus.jsonl:1: expected a JSON object"),
        ('{"_id": " ", "text": "x"}\n', r"corpus.jsonl:1: field '_id': empty id"),
    ],
)
def test_bad_corpus_lines_are_located(tmp_path: Path, content: str, message: str) -> None:
    corpus = _write(tmp_path / "corpus.jsonl", content)
    with pytest.raises(InputError, match=message):
        list(read_documents(corpus))


def test_invalid_utf8_is_located(tmp_path: Path) -> None:
    corpus = _write(tmp_path / "corpus.jsonl", b'{"_id": "a", "text": "ok"}\n{"_id": "b", "text": "\xff"}\n')
    with pytest.raises(InputError, match=r"corpus.jsonl:2: invalid UTF-8"):
        list(read_documents(corpus))


def test_plain_jsonl_with_custom_fields(tmp_path: Path) -> None:
    corpus = _write(tmp_path / "docs.jsonl", '{"id": "x1", "body": "hello"}\n')
    docs = list(read_documents(corpus, id_field="id", text_field="body", title_field=None))
    assert docs == [Document("x1", "hello")]


def test_document_content_does_not_repeat_a_title() -> None:
    assert Document("1", "wing lift . more", "wing lift .").content == "wing lift . more"
    assert Document("1", "more", "Title").content == "Title more"
    assert Document("1", "", "Title").content == "Title"


def test_qrels_with_header_and_errors(tmp_path: Path) -> None:
    qrels = _write(tmp_path / "test.tsv", "query-id\tcorpus-id\tscore\n1\td1\t1\n1\td2\t0\n2\td3\t2\n")
    assert read_qrels(qrels) == {"1": {"d1": 1, "d2": 0}, "2": {"d3": 2}}
    bad = _write(tmp_path / "bad.tsv", "1\td1\t1\n1\td2\n")
    with pytest.raises(InputError, match=r"bad.tsv:2: expected 3 tab-separated columns"):
        read_qrels(bad)
    score = _write(tmp_path / "score.tsv", "1\td1\thigh\n")
    with pytest.raises(InputError, match=r"score.tsv:1: field 'score'"):
        read_qrels(score)


def test_beir_dataset_layout(tmp_path: Path, cranfield_dir: Path) -> None:
    with pytest.raises(InputError, match="corpus.jsonl is missing"):
        BeirDataset.open(tmp_path)
    dataset = BeirDataset.open(cranfield_dir)
    assert len(dataset.queries()) == 225
    assert sum(len(d) for d in dataset.qrels("test").values()) == 1612
    assert sum(1 for _ in dataset.documents()) == 1400


def test_queries_reader_rejects_duplicates(tmp_path: Path) -> None:
    queries = _write(tmp_path / "queries.jsonl", '{"_id": "1", "text": "a"}\n{"_id": "1", "text": "b"}\n')
    with pytest.raises(InputError, match="duplicate id"):
        list(read_queries(queries))


def test_training_dev_set_uses_the_same_reader_and_title_rule(tmp_path: Path) -> None:
    from sparsedoc.encoder.training.data import read_dev_set

    corpus = _write(tmp_path / "corpus.jsonl", '{"_id": 1, "title": "Wings", "text": "They lift."}\n'
                                               '{"_id": "2", "title": "Drag", "text": "Drag rises."}\n')
    queries = _write(tmp_path / "queries.jsonl", '{"_id": "q1", "text": "lift"}\n{"_id": "q2", "text": "none"}\n')
    qrels = _write(tmp_path / "dev.tsv", "query-id\tcorpus-id\tscore\nq1\t1\t1\n")
    dev = read_dev_set(corpus, queries, qrels)
    assert dev.doc_ids == ["1", "2"]
    assert dev.doc_texts == [Document("1", "They lift.", "Wings").content, "Drag rises."]
    assert (dev.queries, dev.qrels) == ({"q1": "lift"}, {"q1": {"1": 1}})
    bad = _write(tmp_path / "bad.jsonl", '{"_id": "3"}\n')
    with pytest.raises(InputError, match=r"bad.jsonl:1: field 'text': missing"):
        read_dev_set(bad, queries, qrels)
