"""The lexical floor: applied by the torch and ONNX encoders alike, refused by ML Commons packaging."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sparsedoc.encoder.errors import ConfigError, InputError
from sparsedoc.encoder.lexical_floor import FILE_NAME, LexicalFloor, read_lexical_floor

pytestmark = pytest.mark.model
TEXTS = ["lift of a wing in a wing slipstream", "boundary layer transition at supersonic speeds", ""]


@pytest.fixture(scope="module")
def floored_dir(tiny_mlm_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("floored") / "model"
    shutil.copytree(tiny_mlm_dir, directory)
    LexicalFloor(scale=3.0).save(directory)
    return directory


def test_every_own_token_gets_at_least_the_floor(floored_dir: Path, tiny_mlm_dir: Path) -> None:
    from sparsedoc.encoder.torch_doc_encoder import TorchDocumentEncoder

    plain = TorchDocumentEncoder(tiny_mlm_dir, max_length=32).encode_document(TEXTS)
    encoder = TorchDocumentEncoder(floored_dir, max_length=32)
    floored = encoder.encode_document(TEXTS)
    tokens = encoder.tokenizer.tokenize(TEXTS[0])
    floor = LexicalFloor(scale=3.0)
    for token in set(tokens):
        expected = max(plain[0].get(token, 0.0), float(floor.saturate(tokens.count(token))))
        assert floored[0][token] == pytest.approx(expected, rel=1e-5)
    assert floored[0]["wing"] == pytest.approx(max(plain[0].get("wing", 0.0), 3.0 * 2 * 1.9 / 2.9), rel=1e-5)
    assert set(plain[1]) <= set(floored[1]) and not floored[2]


def test_onnx_export_carries_the_floor(floored_dir: Path, tmp_path: Path) -> None:
    from sparsedoc.encoder.onnx_doc_encoder import OnnxDocumentEncoder
    from sparsedoc.encoder.onnx_export import export_onnx
    from sparsedoc.encoder.torch_doc_encoder import TorchDocumentEncoder

    export_onnx(floored_dir, tmp_path / "onnx", max_length=32)
    onnx = OnnxDocumentEncoder(tmp_path / "onnx", num_threads=1)
    assert onnx.lexical_floor == LexicalFloor(scale=3.0)
    expected = TorchDocumentEncoder(floored_dir, max_length=32).encode_document(TEXTS)
    for want, have in zip(expected, onnx.encode_document(TEXTS)):
        assert set(want) == set(have) and all(abs(want[t] - have[t]) <= 1e-4 for t in want)


def test_ml_commons_packaging_refuses_a_floored_model(floored_dir: Path, tmp_path: Path) -> None:
    from sparsedoc.plugin.ml_commons_encoder_package import package_ml_commons

    with pytest.raises(ConfigError, match="lexical floor"):
        package_ml_commons(floored_dir, tmp_path / "zip", kind="encoder")


def test_bad_floor_file_is_one_line_error(tmp_path: Path) -> None:
    (tmp_path / FILE_NAME).write_text('{"scale": "x"}')
    with pytest.raises(InputError, match=FILE_NAME):
        read_lexical_floor(tmp_path)
    with pytest.raises(ConfigError, match="scale > 0"):
        LexicalFloor(scale=0.0)
