"""ONNX export, its parity gate, the onnxruntime encoder, the loader factory and int8 quantisation.

Fixtures are module-local (exports are made once per session and copied where a test
breaks one). Tests that need the SPLADE-tiny checkpoint are marked ``model``; the tiny
random BertForMaskedLM needs only the cached bert-base-uncased tokenizer.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from sparsedoc.encoder.errors import ConfigError, ExportValidationError, ModelLoadError  # noqa: E402
from sparsedoc.encoder.onnx_doc_encoder import OnnxDocumentEncoder, load_document_encoder  # noqa: E402
from sparsedoc.encoder.loading import file_sha256  # noqa: E402
from sparsedoc.encoder.exact_search import exact_search  # noqa: E402
from sparsedoc.encoder.onnx_export import export_onnx, validate_export  # noqa: E402
from sparsedoc.encoder.onnx_format import METADATA_FILE, MODEL_FILE  # noqa: E402
from sparsedoc.encoder.onnx_quantize import compare_quantized_quality, quantize_int8, top_token_agreement  # noqa: E402
from sparsedoc.encoder.sparse_vector import SparseVector  # noqa: E402

MAX_LENGTH = 64
TEXTS = [
    "experimental investigation of the aerodynamics of a wing in a slipstream .",
    "",
    "heat transfer",
    "   ",
    "the boundary layer on a flat plate in supersonic flow with zero pressure gradient " * 12,
    "what similarity laws must be obeyed when constructing aeroelastic models of heated high speed aircraft ?",
]


def _asset(name: str) -> Path:
    from sparsedoc.encoder.assets import asset_dir

    directory = asset_dir(name)
    if not (directory / "config.json").is_file():
        pytest.skip(f"asset {name} not in the local cache (sparsedoc.encoder.assets.fetch_asset({name!r}))")
    return directory


@pytest.fixture(scope="session")
def splade_dir() -> Path:
    return _asset("splade-tiny")


@pytest.fixture(scope="session")
def random_mlm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random BertForMaskedLM (2 layers, hidden 32) on the real bert-base-uncased vocabulary."""
    import torch
    from transformers import BertConfig, BertForMaskedLM

    from sparsedoc.encoder.loading import load_tokenizer

    tokenizer = load_tokenizer(_asset("all-MiniLM-L6-v2"))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    model = BertForMaskedLM(config)
    with torch.no_grad():  # spread the logits so plenty of tokens are active
        model.cls.predictions.bias.normal_(0.0, 2.0)
    directory = tmp_path_factory.mktemp("random-mlm")
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def splade_onnx(splade_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("splade-onnx")
    export_onnx(splade_dir, directory, max_length=MAX_LENGTH, overwrite=True)
    return directory


@pytest.fixture(scope="session")
def random_onnx(random_mlm_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("random-onnx")
    export_onnx(random_mlm_dir, directory, max_length=MAX_LENGTH, overwrite=True)
    return directory


@pytest.fixture(scope="session")
def splade_int8(splade_onnx: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("splade-int8")
    quantize_int8(splade_onnx, directory, overwrite=True)
    return directory


def _copy(directory: Path, tmp_path: Path) -> Path:
    target = tmp_path / directory.name
    shutil.copytree(directory, target)
    return target


# --- export and the parity gate -------------------------------------------------------------

@pytest.mark.model
def test_splade_export_is_self_contained_and_within_tolerance(splade_onnx: Path, splade_dir: Path) -> None:
    names = {p.name for p in splade_onnx.iterdir()}
    assert {MODEL_FILE, METADATA_FILE, "tokenizer.json", "config.json"} <= names
    meta = json.loads((splade_onnx / METADATA_FILE).read_text())
    assert meta["activation"] == "log1p" and meta["max_length"] == MAX_LENGTH and meta["opset"] == 17
    assert meta["special_token_ids"] == [0, 100, 101, 102, 103]
    assert meta["model_sha256"] == file_sha256(splade_onnx / MODEL_FILE)
    assert meta["parity"]["max_abs_diff"] <= 1e-4 and meta["parity"]["top_k_mismatches"] == 0
    report = validate_export(splade_onnx, splade_dir)
    assert report.passed and report.documents == 10


def test_random_bert_export_parity(random_onnx: Path, random_mlm_dir: Path) -> None:
    report = validate_export(random_onnx, random_mlm_dir, top_k=10)
    assert report.max_abs_diff <= 1e-4 and report.top_k_mismatches == 0


def test_projection_runs_in_blocks_with_the_same_weights(random_onnx: Path, random_mlm_dir: Path,
                                                         tmp_path: Path) -> None:
    import onnx

    from sparsedoc.encoder.export_graph import PROJECTION_BLOCK

    vocab = json.loads((random_onnx / METADATA_FILE).read_text())["vocab_size"]
    graph = onnx.load(str(random_onnx / MODEL_FILE)).graph
    widths = sorted({t.dims[1] for t in graph.initializer
                     if len(t.dims) == 2 and t.dims[0] == 32 and t.dims[1] not in (32, 64)})  # hidden 32
    assert widths == [vocab % PROJECTION_BLOCK, PROJECTION_BLOCK]  # 119 blocks of 256 and one of 58 columns
    assert sum(n.op_type == "ReduceMax" for n in graph.node) >= vocab // PROJECTION_BLOCK
    assert json.loads((random_onnx / METADATA_FILE).read_text())["projection_block"] == PROJECTION_BLOCK
    whole = tmp_path / "unblocked"
    export_onnx(random_mlm_dir, whole, max_length=MAX_LENGTH, projection_block=vocab)
    assert sum(n.op_type == "ReduceMax" for n in onnx.load(str(whole / MODEL_FILE)).graph.node) < 5
    blocked = OnnxDocumentEncoder(random_onnx, num_threads=2, allow_spinning=False)
    unblocked = OnnxDocumentEncoder(whole)
    for batch in ([t for t in TEXTS if t.strip()], ["heat transfer"]):
        a, b = blocked.encode_to_array(batch), unblocked.encode_to_array(batch)
        assert a.shape == (len(batch), vocab) and np.abs(a - b).max() <= 1e-5
    with pytest.raises(ConfigError, match="projection_block"):
        export_onnx(random_mlm_dir, tmp_path / "bad", projection_block=0)


def test_gate_fires_on_a_perturbed_graph(random_onnx: Path, random_mlm_dir: Path, tmp_path: Path) -> None:
    import onnx
    from onnx import numpy_helper

    broken = _copy(random_onnx, tmp_path)
    graph = onnx.load(str(broken / MODEL_FILE))
    vocab = json.loads((broken / METADATA_FILE).read_text())["vocab_size"]
    bias = next(t for t in graph.graph.initializer if list(t.dims) == [vocab] and t.data_type == onnx.TensorProto.FLOAT
                and not np.all(numpy_helper.to_array(t) == 1.0))  # the projection bias, not the keep mask
    bias.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(bias) + 0.01, bias.name))
    onnx.save(graph, str(broken / MODEL_FILE))
    meta = json.loads((broken / METADATA_FILE).read_text())
    meta["model_sha256"] = file_sha256(broken / MODEL_FILE)
    (broken / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ExportValidationError, match=r"max abs diff 0\.0\d+ \(atol 0\.0001\)"):
        validate_export(broken, random_mlm_dir)


def test_failed_export_is_marked_invalid(random_mlm_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ExportValidationError, match="top-10"):
        export_onnx(random_mlm_dir, tmp_path / "out", max_length=MAX_LENGTH, atol=-1.0)
    assert (tmp_path / "out" / "model.onnx.invalid").is_file()
    assert not (tmp_path / "out" / MODEL_FILE).exists() and not (tmp_path / "out" / METADATA_FILE).exists()


def test_export_refuses_a_non_empty_directory(random_mlm_dir: Path, random_onnx: Path) -> None:
    with pytest.raises(ConfigError, match="not empty"):
        export_onnx(random_mlm_dir, random_onnx)


# --- the onnxruntime encoder ----------------------------------------------------------------

@pytest.mark.model
def test_onnx_encoder_matches_torch_encoder(splade_onnx: Path, splade_dir: Path) -> None:
    from sparsedoc.encoder.torch_doc_encoder import TorchDocumentEncoder

    torch_enc = TorchDocumentEncoder(splade_dir, max_length=MAX_LENGTH, batch_size=2)
    onnx_enc = OnnxDocumentEncoder(splade_onnx, batch_size=2, num_threads=1)
    expected, got = torch_enc.encode_document(TEXTS), onnx_enc.encode_document(TEXTS)
    for want, have in zip(expected, got):
        assert set(want) == set(have)
        assert all(abs(want[t] - have[t]) <= 1e-4 for t in want)
    assert onnx_enc.truncated_documents == torch_enc.truncated_documents == 1
    assert not got[1] and not got[3] and len(got[0]) > 10


def test_truncation_counting_and_empty_documents(random_onnx: Path) -> None:
    encoder = OnnxDocumentEncoder(random_onnx, max_length=8, batch_size=4)
    vectors = encoder.encode_document(["one two three four five six seven eight", "", "short", " \n"])
    assert encoder.truncated_documents == 1
    assert [bool(v) for v in vectors] == [True, False, True, False]
    assert encoder.encode_document([]) == []
    encoder.encode_document(["one two three four five six seven eight nine"])
    assert encoder.truncated_documents == 2


def test_windows_match_torch(random_onnx: Path, random_mlm_dir: Path) -> None:
    from sparsedoc.encoder.torch_doc_encoder import TorchDocumentEncoder

    for max_windows, truncated in ((64, 0), (3, 1)):  # the long repeated text needs about 30 windows
        options = dict(max_length=16, long_documents="windows", window_stride=5, batch_size=3, max_windows=max_windows)
        torch_enc = TorchDocumentEncoder(random_mlm_dir, **options)
        onnx_enc = OnnxDocumentEncoder(random_onnx, num_threads=1, **options)
        expected, got = torch_enc.encode_document(TEXTS), onnx_enc.encode_document(TEXTS)
        for want, have in zip(expected, got):
            assert set(want) == set(have)
            assert all(abs(want[t] - have[t]) <= 1e-4 for t in want)
        assert onnx_enc.windowed_documents == torch_enc.windowed_documents == 2
        assert onnx_enc.truncated_documents == torch_enc.truncated_documents == truncated


def test_window_is_capped_at_the_exports(random_onnx: Path) -> None:
    assert OnnxDocumentEncoder(random_onnx, max_length=4096).max_length == MAX_LENGTH
    with pytest.raises(ConfigError, match="batch_size"):
        OnnxDocumentEncoder(random_onnx, batch_size=0)
    with pytest.raises(ConfigError, match="activation"):
        OnnxDocumentEncoder(random_onnx, activation="log1p_log1p")


def test_truncated_model_file_is_a_load_error(random_onnx: Path, tmp_path: Path) -> None:
    broken = _copy(random_onnx, tmp_path)
    data = (broken / MODEL_FILE).read_bytes()
    (broken / MODEL_FILE).write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelLoadError, match="truncated, corrupt or replaced"):
        OnnxDocumentEncoder(broken)
    with pytest.raises(ModelLoadError, match="onnxruntime cannot load it"):
        OnnxDocumentEncoder(broken, verify_checksum=False)


def test_missing_tokenizer_and_metadata_are_load_errors(random_onnx: Path, tmp_path: Path) -> None:
    no_tokenizer = _copy(random_onnx, tmp_path / "a")
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        (no_tokenizer / name).unlink(missing_ok=True)
    with pytest.raises(ModelLoadError, match="tokenizer"):
        OnnxDocumentEncoder(no_tokenizer)
    no_metadata = _copy(random_onnx, tmp_path / "b")
    (no_metadata / METADATA_FILE).unlink()
    with pytest.raises(ModelLoadError, match=METADATA_FILE):
        OnnxDocumentEncoder(no_metadata)
    with pytest.raises(ModelLoadError, match="without"):
        load_document_encoder(no_metadata)


def test_metadata_mismatch_is_a_load_error(random_onnx: Path, tmp_path: Path) -> None:
    broken = _copy(random_onnx, tmp_path)
    meta = json.loads((broken / METADATA_FILE).read_text())
    meta["special_token_ids"] = [0, 101, 102]
    (broken / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="special ids"):
        OnnxDocumentEncoder(broken)
    meta["special_token_ids"], meta["vocab_size"] = [0, 100, 101, 102, 103], 1000
    (broken / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="tokenizer has 30522 tokens"):
        OnnxDocumentEncoder(broken)
    (broken / METADATA_FILE).write_text("{not json")
    with pytest.raises(ModelLoadError, match="unreadable"):
        OnnxDocumentEncoder(broken)


def test_load_document_encoder_picks_the_runtime(random_onnx: Path, random_mlm_dir: Path) -> None:
    from sparsedoc.encoder.protocols import DocumentEncoder
    from sparsedoc.encoder.torch_doc_encoder import TorchDocumentEncoder

    onnx_enc = load_document_encoder(random_onnx, batch_size=4)
    torch_enc = load_document_encoder(random_mlm_dir, max_length=MAX_LENGTH)
    assert isinstance(onnx_enc, OnnxDocumentEncoder) and isinstance(torch_enc, TorchDocumentEncoder)
    assert isinstance(onnx_enc, DocumentEncoder) and isinstance(torch_enc, DocumentEncoder)
    with pytest.raises(ConfigError, match="device"):
        load_document_encoder(random_onnx, device="cuda")


# --- int8 -----------------------------------------------------------------------------------

@pytest.mark.model
def test_int8_keeps_top_tokens(splade_onnx: Path, splade_int8: Path) -> None:
    meta = json.loads((splade_int8 / METADATA_FILE).read_text())
    assert meta["precision"] == "int8-dynamic" and meta["quantization"]["per_channel"] is True
    assert (splade_int8 / MODEL_FILE).stat().st_size < 0.75 * (splade_onnx / MODEL_FILE).stat().st_size
    live = [t for t in TEXTS if t.strip()]
    fp32 = OnnxDocumentEncoder(splade_onnx).encode_document(live)
    int8 = OnnxDocumentEncoder(splade_int8).encode_document(live)
    assert top_token_agreement(fp32, int8, k=10) >= 0.8
    with pytest.raises(ConfigError, match="already int8"):
        quantize_int8(splade_int8, splade_int8.parent / "again")


def test_int8_quantises_every_projection_block(random_onnx: Path, random_mlm_dir: Path, tmp_path: Path) -> None:
    import onnx

    import torch

    from sparsedoc.encoder.doc_batches import tokenize_documents
    from sparsedoc.encoder.export_graph import PROJECTION_BLOCK
    from sparsedoc.encoder.loading import load_masked_lm
    from sparsedoc.encoder.pooling import document_weights

    int8 = quantize_int8(random_onnx, tmp_path / "int8")
    fp32_projection = quantize_int8(random_onnx, tmp_path / "int8-fp32-projection", exclude_projection=True)
    blocks = -(-json.loads((random_onnx / METADATA_FILE).read_text())["vocab_size"] // PROJECTION_BLOCK)
    ops = [n.op_type for n in onnx.load(str(int8)).graph.node]
    # every block is an int8 product, and the blocks share one quantisation of their input
    assert ops.count("MatMulInteger") >= blocks and ops.count("DynamicQuantizeLinear") < 20
    kept = json.loads((tmp_path / "int8-fp32-projection" / METADATA_FILE).read_text())["quantization"]["fp32_nodes"]
    assert len(kept) == blocks
    assert [n.op_type for n in onnx.load(str(fp32_projection)).graph.node].count("MatMul") >= blocks
    encoder = OnnxDocumentEncoder(tmp_path / "int8")
    tokens = tokenize_documents(encoder.tokenizer, [t for t in TEXTS if t.strip()], MAX_LENGTH)
    batch = encoder.run_batch(tokens.input_ids, tokens.attention_mask)
    with torch.inference_mode():
        want = document_weights(load_masked_lm(random_mlm_dir), torch.from_numpy(tokens.input_ids),
                                torch.from_numpy(tokens.attention_mask), "log1p", encoder.special_ids).numpy()
    assert top_token_agreement(_vectors(batch), _vectors(want), k=10) >= 0.9


def _vectors(weights: np.ndarray) -> list[SparseVector]:
    return [SparseVector({str(j): float(row[j]) for j in np.nonzero(row > 0)[0]}) for row in weights]


@pytest.mark.model
def test_quality_gate_reports_both_scores(splade_onnx: Path, splade_int8: Path) -> None:
    documents = {"d1": "lift of a wing in a slipstream", "d2": "heat transfer to a cooled cylinder",
                 "d3": "buckling of thin cylindrical shells under pressure"}
    queries = {"q1": "wing lift", "q2": "heat transfer cylinder"}
    qrels = {"q1": {"d1": 1}, "q2": {"d2": 1}}
    quality = compare_quantized_quality(OnnxDocumentEncoder(splade_onnx), OnnxDocumentEncoder(splade_int8),
                                        documents, queries, qrels)
    assert quality.fp32_ndcg == pytest.approx(1.0) and quality.passed
    assert (quality.documents, quality.queries) == (3, 2)


def test_exact_search_ranks_by_dot_product() -> None:
    docs = {"a": SparseVector({"wing": 1.0}), "b": SparseVector({"wing": 2.0, "lift": 1.0}), "c": SparseVector(),
            "d": SparseVector({"lift": 1.0 / 3.0}), "e": SparseVector({"wing": 1.0})}
    run = exact_search({"q": SparseVector({"wing": 1.0, "lift": 3.0}), "none": SparseVector({"drag": 1.0})}, docs, k=3)
    assert run == {"q": {"b": 5.0, "a": 1.0, "d": 1.0}, "none": {}}
    assert list(run["q"]) == ["b", "a", "d"]  # ties broken by doc_id; "e" (also 1.0) is cut at k


def test_graph_handles_left_padding_and_rows_without_tokens(random_onnx: Path, random_mlm_dir: Path) -> None:
    import torch

    from sparsedoc.encoder.loading import load_masked_lm
    from sparsedoc.encoder.pooling import document_weights

    encoder = OnnxDocumentEncoder(random_onnx)
    ids = np.array([[101, 7592, 2088, 102], [0, 0, 0, 0], [0, 101, 7592, 102]], dtype=np.int64)
    mask = np.array([[1, 1, 1, 1], [0, 0, 0, 0], [0, 1, 1, 1]], dtype=np.int64)
    weights = encoder.run_batch(ids, mask)
    with torch.inference_mode():
        expected = document_weights(load_masked_lm(random_mlm_dir), torch.from_numpy(ids), torch.from_numpy(mask),
                                    "log1p", encoder.special_ids).numpy()
    assert not weights[1].any() and weights[0].any() and weights[2].any()
    assert np.abs(weights - expected).max() <= 1e-4
