"""The torch document encoder on a tiny random model built on the real bert-base-uncased vocabulary."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from sparsedoc.encoder.errors import ModelLoadError
from sparsedoc.encoder.pruning import Pruning
from sparsedoc.encoder.sparse_vector import SparseVector
from sparsedoc.encoder.torch_doc_encoder import TorchDocumentEncoder

pytestmark = pytest.mark.model

TEXTS = ["the lift of a swept wing at transonic speed", "boundary layer transition", "drag"]


@pytest.fixture(scope="module")
def encoder(tiny_mlm_dir: Path) -> TorchDocumentEncoder:
    return TorchDocumentEncoder(tiny_mlm_dir, batch_size=2)


def test_weights_follow_the_formula(encoder: TorchDocumentEncoder) -> None:
    tokens = encoder.tokenizer(TEXTS[1], return_tensors="pt")
    with torch.no_grad():
        logits = encoder.model(**tokens).logits[0].numpy()
    expected = np.log1p(np.maximum(logits.max(axis=0), 0.0))
    expected[encoder.special_ids] = 0.0
    (vector,) = encoder.encode_document([TEXTS[1]])
    dense = np.zeros_like(expected)
    for token, weight in vector.items():
        dense[encoder.tokenizer.convert_tokens_to_ids(token)] = weight
    np.testing.assert_allclose(dense, expected, atol=1e-5)
    assert not set(vector) & set(encoder.tokenizer.all_special_tokens)


def test_batching_and_padding_do_not_change_vectors(encoder: TorchDocumentEncoder) -> None:
    batched = encoder.encode_document(TEXTS)
    for text, vector in zip(TEXTS, batched):
        (alone,) = encoder.encode_document([text])
        assert set(alone) == set(vector)
        assert all(abs(alone[t] - vector[t]) < 1e-5 for t in alone)


def test_empty_documents_give_empty_vectors(encoder: TorchDocumentEncoder) -> None:
    vectors = encoder.encode_document(["", "drag", "   "])
    assert [len(v) > 0 for v in vectors] == [False, True, False]


def test_truncation_is_counted(tiny_mlm_dir: Path) -> None:
    short = TorchDocumentEncoder(tiny_mlm_dir, max_length=8)
    short.encode_document(["one two three four five six seven eight nine", "drag"])
    assert short.truncated_documents == 1


def test_pruning_is_applied(tiny_mlm_dir: Path) -> None:
    pruned = TorchDocumentEncoder(tiny_mlm_dir, pruning=Pruning("top_k", 5))
    assert len(pruned.encode_document([TEXTS[0]])[0]) == 5


def test_splade_tiny_encodes_meaningful_tokens(splade_tiny_dir: Path) -> None:
    (vector,) = TorchDocumentEncoder(splade_tiny_dir).encode_document(["the lift of a swept wing"])
    top = set(vector.top_k(10))
    assert {"wing", "lift"} <= top


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_corrupt_model_directories_fail_at_load(tiny_mlm_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="not found"):
        TorchDocumentEncoder(tmp_path / "missing")
    no_weights = _copy(tiny_mlm_dir, tmp_path / "no-weights")
    (no_weights / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError, match="no model weights"):
        TorchDocumentEncoder(no_weights)
    bad_config = _copy(tiny_mlm_dir, tmp_path / "bad-config")
    (bad_config / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="unreadable config"):
        TorchDocumentEncoder(bad_config)
    truncated = _copy(tiny_mlm_dir, tmp_path / "truncated")
    weights = truncated / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ModelLoadError, match="cannot load fill-mask model"):
        TorchDocumentEncoder(truncated)
    assert json.loads((tiny_mlm_dir / "config.json").read_text())  # source untouched


def test_encoder_only_checkpoint_loads_with_a_fresh_head(minilm_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    encoder = TorchDocumentEncoder(minilm_dir, max_length=32)
    assert "initialised fresh" in caplog.text
    assert len(encoder.encode_document(["wing"])[0]) > 0


# --- long documents -----------------------------------------------------------------------

LONG_TEXT = "the lift of a swept wing at transonic speed depends on the boundary layer and shock position"


def test_window_starts_cover_every_token() -> None:
    from sparsedoc.encoder.doc_windows import window_starts

    assert window_starts(10, 10, 5) == [0]
    assert window_starts(11, 10, 5) == [0, 1]
    assert window_starts(25, 10, 5) == [0, 5, 10, 15]
    assert window_starts(25, 10, 10) == [0, 10, 15]


def test_two_window_document_is_the_elementwise_max_of_its_windows(tiny_mlm_dir: Path) -> None:
    from sparsedoc.encoder.doc_batches import pad_rows, rows_to_vectors

    encoder = TorchDocumentEncoder(tiny_mlm_dir, max_length=12, long_documents="windows", window_stride=10)
    tokenizer = encoder.tokenizer
    content = tokenizer(LONG_TEXT, add_special_tokens=False)["input_ids"]
    assert 10 < len(content) <= 20  # two windows of 10 content tokens: [0, 10) and [len - 10, len)
    windows = [content[:10], content[-10:]]
    rows = [[tokenizer.cls_token_id, *w, tokenizer.sep_token_id] for w in windows]
    per_window = encoder.run_batch(*pad_rows(rows, tokenizer.pad_token_id))
    (expected,) = rows_to_vectors(np.maximum(per_window[0], per_window[1])[None, :], encoder.vocabulary)
    (got,) = encoder.encode_document([LONG_TEXT])
    assert got == expected
    assert set(got) > set(rows_to_vectors(per_window[:1], encoder.vocabulary)[0])  # the second window adds tokens
    assert (encoder.windowed_documents, encoder.truncated_documents) == (1, 0)


def test_short_documents_are_identical_in_both_modes(tiny_mlm_dir: Path) -> None:
    truncating = TorchDocumentEncoder(tiny_mlm_dir, max_length=12)
    windowing = TorchDocumentEncoder(tiny_mlm_dir, max_length=12, long_documents="windows")
    texts = ["drag", "boundary layer transition", "", LONG_TEXT]
    cut, windowed = truncating.encode_document(texts), windowing.encode_document(texts)
    assert cut[:3] == windowed[:3] and cut[3] != windowed[3]
    assert (truncating.truncated_documents, truncating.windowed_documents) == (1, 0)
    assert (windowing.truncated_documents, windowing.windowed_documents) == (0, 1)


def test_long_document_options_are_checked(tiny_mlm_dir: Path) -> None:
    from sparsedoc.encoder.errors import ConfigError

    with pytest.raises(ConfigError, match="long_documents must be one of"):
        TorchDocumentEncoder(tiny_mlm_dir, long_documents="split")
    with pytest.raises(ConfigError, match="window_stride"):
        TorchDocumentEncoder(tiny_mlm_dir, long_documents="windows", window_stride=0)
    with pytest.raises(ConfigError, match="max_windows"):
        TorchDocumentEncoder(tiny_mlm_dir, long_documents="windows", max_windows=0)


class RecordingEncoder(TorchDocumentEncoder):
    """The real torch encoder, recording how many rows each forward pass ran."""

    passes: list[int]

    def run_batch(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        self.passes = [*getattr(self, "passes", []), len(input_ids)]
        return super().run_batch(input_ids, attention_mask)


README = Path(__file__).resolve().parents[1] / "README.md"


def _prose(characters: int) -> str:
    """Real technical prose (this repository's README: words, numbers, code, punctuation), repeated as needed."""
    text = README.read_text(encoding="utf-8")
    return (text * (characters // len(text) + 1))[:characters]


def _dense(vector: SparseVector, encoder: TorchDocumentEncoder) -> np.ndarray:
    dense = np.zeros(len(encoder.vocabulary), dtype=np.float32)
    for token, weight in vector.items():
        dense[encoder.tokenizer.convert_tokens_to_ids(token)] = weight
    return dense


def _windows_at_once(encoder: TorchDocumentEncoder, text: str, stride: int, count: int | None = None) -> np.ndarray:
    """The reference: the whole text tokenised, its first ``count`` windows in one forward pass, max-pooled."""
    from sparsedoc.encoder.doc_batches import pad_rows
    from sparsedoc.encoder.doc_windows import window_starts

    tokenizer = encoder.tokenizer
    content = tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
    size = encoder.max_length - 2
    rows = [[tokenizer.cls_token_id, *content[s : s + size], tokenizer.sep_token_id]
            for s in window_starts(len(content), size, stride)[:count]]
    return encoder.run_batch(*pad_rows(rows, tokenizer.pad_token_id)).max(axis=0)


def test_streamed_windows_equal_all_windows_at_once(tiny_mlm_dir: Path) -> None:
    text = _prose(6000)
    encoder = RecordingEncoder(tiny_mlm_dir, max_length=12, long_documents="windows", window_stride=7,
                               max_windows=1000, batch_size=16)
    (got,) = encoder.encode_document([text])
    windows = len(encoder.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]) // 7
    assert 100 < windows < 1000 and sum(encoder.passes) > 100 and max(encoder.passes) == 16
    np.testing.assert_allclose(_dense(got, encoder), _windows_at_once(encoder, text, 7), atol=1e-5)
    assert (encoder.windowed_documents, encoder.truncated_documents) == (1, 0)


def test_max_windows_keeps_the_first_windows_and_counts_truncation(tiny_mlm_dir: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    text = _prose(500_000)  # tokenised only as far as its 5 windows reach
    encoder = RecordingEncoder(tiny_mlm_dir, max_length=12, long_documents="windows", window_stride=7,
                               max_windows=5, batch_size=4)
    got, short = encoder.encode_document([text, "drag"])
    assert sorted(encoder.passes) == [1, 1, 4]  # "drag", then the 5 windows 4 at a time
    np.testing.assert_allclose(_dense(got, encoder), _windows_at_once(encoder, text, 7, count=5), atol=1e-5)
    assert short == TorchDocumentEncoder(tiny_mlm_dir, max_length=12).encode_document(["drag"])[0]
    assert (encoder.windowed_documents, encoder.truncated_documents) == (1, 1)
    assert "1 documents need more than 5 windows" in caplog.text


def test_long_texts_are_tokenised_from_a_prefix_that_keeps_their_first_tokens(bert_tokenizer: object) -> None:
    from sparsedoc.encoder.doc_windows import document_rows, token_prefixes

    texts = [_prose(n) for n in (300, 3000, 40_000)] + ["x" * 5000, "a " * 3000, "wing\n\n\tlift " * 900]
    whole = bert_tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
    for count in (5, 50, 400):
        for ids, full in zip(token_prefixes(bert_tokenizer, texts, count, add_special_tokens=False), whole):
            assert ids == full or (len(ids) > count and ids == full[: len(ids)])
    rows = document_rows(bert_tokenizer, texts, 64).rows
    assert rows == bert_tokenizer(texts, truncation=True, max_length=64, verbose=False)["input_ids"]
