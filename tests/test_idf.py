"""The IDF formula, corpus IDF tables, idf.json validation and the inference-free query encoder."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from sparsedoc.encoder.errors import ConfigError, InputError, ModelLoadError
from sparsedoc.encoder.idf import compute_idf, idf_weight, load_idf, save_idf
from sparsedoc.encoder.idf_query_encoder import IdfQueryEncoder


def test_idf_formula_by_hand() -> None:
    # ln(1 + (N - df + 0.5) / (df + 0.5))
    assert idf_weight(3, 1) == pytest.approx(math.log(1 + 2.5 / 1.5))
    assert idf_weight(3, 3) == pytest.approx(math.log(1 + 0.5 / 3.5))
    assert idf_weight(8_841_823, 1) == pytest.approx(15.59, abs=0.01)  # OpenSearch's MS MARCO table


def test_compute_idf_counts_documents_not_occurrences(bert_tokenizer) -> None:  # noqa: ANN001
    table = compute_idf(["wing wing lift", "wing drag", ""], bert_tokenizer)
    assert table == pytest.approx({
        "wing": idf_weight(3, 2), "lift": idf_weight(3, 1), "drag": idf_weight(3, 1),
    })
    assert "[CLS]" not in table and "[SEP]" not in table


def test_idf_json_round_trip(tmp_path: Path) -> None:
    path = save_idf({"b": 1.5, "a": 0.25}, tmp_path / "idf.json")
    assert load_idf(path) == {"a": 0.25, "b": 1.5}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"a": 1.0,\n "b": }', r"idf.json:2: malformed JSON"),
        ('["a"]', "expected a JSON object"),
        ('{"a": "x"}', "field 'a': weight must be a number"),
        ('{"a": -1}', "field 'a': weight must be finite and >= 0"),
    ],
)
def test_bad_idf_json_is_located(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "idf.json"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        load_idf(path)


def test_missing_idf_file(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="not found"):
        load_idf(tmp_path / "nope.json")


def test_query_encoder_unique_tokens_idf_weights_no_specials(bert_tokenizer) -> None:  # noqa: ANN001
    encoder = IdfQueryEncoder(bert_tokenizer, {"wing": 2.0, "lift": 3.0, "[CLS]": 9.0})
    (vector,) = encoder.encode_query(["Wing lift of a WING"])
    assert vector.to_dict() == {"wing": 2.0, "lift": 3.0}  # 'of', 'a' unknown -> 0 -> dropped


def test_query_encoder_unknown_weight_and_validation(bert_tokenizer) -> None:  # noqa: ANN001
    encoder = IdfQueryEncoder(bert_tokenizer, {"wing": 2.0}, unknown_weight=0.5)
    assert encoder.encode_query(["wing drag"])[0].to_dict() == {"wing": 2.0, "drag": 0.5}
    assert encoder.encode_query([""])[0].to_dict() == {}
    with pytest.raises(ConfigError):
        IdfQueryEncoder(bert_tokenizer, {"wing": 2.0}, unknown_weight=-1)


def test_idf_table_from_another_vocabulary_is_rejected(bert_tokenizer) -> None:  # noqa: ANN001
    with pytest.raises(ModelLoadError, match="another vocabulary"):
        IdfQueryEncoder(bert_tokenizer, {"wing": 1.0, "Ġwing": 2.0})


def test_query_encoder_tokenises_the_whole_query(bert_tokenizer) -> None:  # noqa: ANN001
    """The tokenizer's own files cut at 128 tokens (all-MiniLM-L6-v2's tokenizer.json); the encoder must not."""
    words = [f"w{i}" for i in range(300)]
    encoder = IdfQueryEncoder(bert_tokenizer, {"zeppelin": 2.0}, unknown_weight=1.0)
    (vector,) = encoder.encode_query([" ".join(words) + " zeppelin"])
    assert vector["zeppelin"] == 2.0
    assert set(bert_tokenizer.tokenize(" ".join(words))) <= set(vector)
    assert bert_tokenizer("x " * 200)["input_ids"][-1] == bert_tokenizer.sep_token_id  # the shared tokenizer is untouched
