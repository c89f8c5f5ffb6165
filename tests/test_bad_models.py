"""A broken model (NaN weights, or weights that activate no token) is refused before anything is written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sparsedoc.cli.main import main

pytestmark = pytest.mark.model

CORPUS = "".join(json.dumps({"_id": str(i), "text": text}) + "\n" for i, text in
                 enumerate(["lift of a swept wing", "heat transfer at the stagnation point", "boundary layer"]))


def _broken_copy(model_dir: Path, target: Path, breakage: str) -> Path:
    """Copy ``model_dir`` with every weight NaN ("nan") or a bias that makes every logit negative ("silent")."""
    import torch
    from transformers import BertForMaskedLM

    model = BertForMaskedLM.from_pretrained(model_dir)
    with torch.no_grad():
        if breakage == "nan":
            for parameter in model.parameters():
                parameter.fill_(float("nan"))
        else:
            model.cls.predictions.bias.fill_(-1e4)
    model.save_pretrained(target)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(model_dir / name, target / name)
    return target


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error:")]


@pytest.mark.parametrize("breakage", ["nan", "silent"])
def test_broken_torch_model_is_refused_before_writing(breakage: str, tiny_mlm_dir: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    model = _broken_copy(tiny_mlm_dir, tmp_path / f"{breakage}-model", breakage)
    corpus, out = tmp_path / "corpus.jsonl", tmp_path / "vectors.jsonl"
    corpus.write_text(CORPUS)
    assert main(["encode", str(corpus), "--model", str(model), "--out", str(out)]) == 1
    (line,) = _error_lines(capsys.readouterr().err)
    assert line.startswith(f"error: {model}: ")
    assert ("not finite" if breakage == "nan" else "no token") in line
    assert not out.exists()


@pytest.mark.engine
def test_nan_model_leaves_no_index(tiny_mlm_dir: Path, tmp_path: Path, lucene_backend_cls: type,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    model = _broken_copy(tiny_mlm_dir, tmp_path / "nan-model", "nan")
    corpus, index = tmp_path / "corpus.jsonl", tmp_path / "idx"
    corpus.write_text(CORPUS)
    assert main(["index", str(corpus), "--model", str(model), "--index", str(index)]) == 1
    (line,) = _error_lines(capsys.readouterr().err)
    assert line.startswith(f"error: {model}: ") and "not finite" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.jsonl", "nan-model"]


def test_nan_onnx_model_is_refused(tiny_mlm_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An export whose weights turned NaN after export (its checksum updated to match) fails the same way."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    from sparsedoc.encoder.loading import file_sha256
    from sparsedoc.encoder.onnx_export import export_onnx
    from sparsedoc.encoder.onnx_format import METADATA_FILE

    directory = tmp_path / "onnx"
    model_file = export_onnx(tiny_mlm_dir, directory, max_length=64)
    graph = onnx.load(str(model_file))
    for initializer in graph.graph.initializer:
        weights = numpy_helper.to_array(initializer)
        if weights.dtype == np.float32:
            initializer.CopyFrom(numpy_helper.from_array(np.full_like(weights, np.nan), initializer.name))
    onnx.save(graph, str(model_file))
    metadata = json.loads((directory / METADATA_FILE).read_text())
    metadata["model_sha256"] = file_sha256(model_file)
    (directory / METADATA_FILE).write_text(json.dumps(metadata))
    corpus, out = tmp_path / "corpus.jsonl", tmp_path / "vectors.jsonl"
    corpus.write_text(CORPUS)
    assert main(["encode", str(corpus), "--model", str(directory), "--out", str(out)]) == 1
    (line,) = _error_lines(capsys.readouterr().err)
    assert line.startswith(f"error: {directory}: ") and "not finite" in line
    assert not out.exists()
