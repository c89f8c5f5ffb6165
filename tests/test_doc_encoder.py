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
