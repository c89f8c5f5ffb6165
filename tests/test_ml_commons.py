"""ML Commons packaging (zip, sha256, register body) and the real register/deploy/predict flow.

Engine tests run on a real node (the ``opensearch_url`` fixture). The SPARSE_ENCODING ones
need DJL's PyTorch natives in the node's ``ml_cache`` (seeded from Maven Central when the
node's data path is on this machine; see plugin/opensearch/node/djl_natives.py).
"""

from __future__ import annotations

import json
import shutil
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import engine_unavailable

from sparsedoc.encoder.errors import BackendError, ConfigError, ModelLoadError
from sparsedoc.encoder.idf import compute_idf, save_idf
from sparsedoc.encoder.idf_query_encoder import IdfQueryEncoder
from sparsedoc.encoder.loading import load_tokenizer
from sparsedoc.plugin.ml_commons.encoder_package import ML_COMMONS_INPUTS, package_sparse_encoder
from sparsedoc.plugin.ml_commons.package import MlCommonsPackage, check_zip, package_sparse_tokenizer

pytestmark = [pytest.mark.model]

DOCUMENTS = {
    "d1": "The lift and drag of a slender wing in supersonic flow were measured.",
    "d2": "Heat transfer at the stagnation point of a blunt body in hypersonic flow.",
    "d3": "Boundary layer transition on a flat plate compared with laminar theory.",
    "d4": "Buckling of thin cylindrical shells under axial compression.",
    "d5": "Wing flutter and the aeroelastic stability of swept wings.",
    "d6": "Skin friction measurements in a turbulent boundary layer with heat transfer.",
}
QUERIES = ["lift of a supersonic wing", "heat transfer boundary layer", "Buckling of SHELLS",
           "flutterish aeroelasticity xyzzy", "wing wing wing"]
RANK_FEATURES_RELATIVE_ERROR = 2 ** -8
ONNX_ATOL = 1e-4


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def idf_path(tmp_path_factory: pytest.TempPathFactory, splade_tiny_dir: Path) -> Path:
    idf = compute_idf(DOCUMENTS.values(), load_tokenizer(splade_tiny_dir))
    return save_idf(idf, tmp_path_factory.mktemp("idf") / "idf.json")


@pytest.fixture(scope="module")
def tokenizer_package(tmp_path_factory: pytest.TempPathFactory, splade_tiny_dir: Path,
                      idf_path: Path) -> MlCommonsPackage:
    return package_sparse_tokenizer(splade_tiny_dir, idf_path, tmp_path_factory.mktemp("tok-pkg"),
                                    name=_name("sparsedoc-test-tok"))


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory: pytest.TempPathFactory, splade_tiny_dir: Path) -> Path:
    from sparsedoc.encoder.onnx_export import export_onnx

    directory = tmp_path_factory.mktemp("onnx")
    export_onnx(splade_tiny_dir, directory, overwrite=True)
    return directory


@pytest.fixture()
def bpe_tokenizer_dir(tmp_path: Path) -> Path:
    """A byte-level BPE tokenizer: ML Commons' decoded token names differ from its vocabulary."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(list(DOCUMENTS.values()) * 3, vocab_size=300, special_tokens=["<s>", "</s>", "<pad>"])
    fast = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token="<s>", eos_token="</s>",
                                   pad_token="<pad>")
    fast.save_pretrained(tmp_path / "bpe")
    return tmp_path / "bpe"


# -- packaging (no engine) -----------------------------------------------------------------------
def test_tokenizer_package_layout(tokenizer_package: MlCommonsPackage, splade_tiny_dir: Path, idf_path: Path) -> None:
    body = tokenizer_package.register_body
    assert body["function_name"] == "SPARSE_TOKENIZE"
    assert body["model_content_size_in_bytes"] == tokenizer_package.zip_path.stat().st_size
    assert body["url"] == tokenizer_package.zip_path.as_uri()
    with zipfile.ZipFile(tokenizer_package.zip_path) as archive:
        assert sorted(archive.namelist()) == ["idf.json", "tokenizer.json"]
        table = json.loads(archive.read("idf.json"))
        tokenizer_json = json.loads(archive.read("tokenizer.json"))
    assert table == json.loads(idf_path.read_text())  # absent tokens: ML Commons' own 1.0
    assert tokenizer_json["truncation"] is None and tokenizer_json["padding"] is None
    reloaded = MlCommonsPackage.load(tokenizer_package.directory)
    assert reloaded.register_body == body and reloaded.sha256 == tokenizer_package.sha256


def test_other_unknown_weight_lists_every_token(tmp_path: Path, splade_tiny_dir: Path, idf_path: Path) -> None:
    package = package_sparse_tokenizer(splade_tiny_dir, idf_path, tmp_path / "out", unknown_weight=0.5)
    with zipfile.ZipFile(package.zip_path) as archive:
        table = json.loads(archive.read("idf.json"))
    assert len(table) == len(load_tokenizer(splade_tiny_dir).get_vocab()) - 5  # all but the special tokens
    assert table["zebra"] == 0.5
    with pytest.raises(ConfigError, match="weight 0"):
        package_sparse_tokenizer(splade_tiny_dir, idf_path, tmp_path / "zero", unknown_weight=0.0)


def test_idf_from_another_vocabulary_is_refused(tmp_path: Path, splade_tiny_dir: Path) -> None:
    idf = save_idf({"Ġthe": 1.5, "Ġwing": 3.0, "lift": 2.0}, tmp_path / "idf.json")
    with pytest.raises(ModelLoadError, match="another vocabulary"):
        package_sparse_tokenizer(splade_tiny_dir, idf, tmp_path / "out")


def test_tokenizer_with_other_decoded_names_is_refused(tmp_path: Path, bpe_tokenizer_dir: Path) -> None:
    idf = save_idf(compute_idf(DOCUMENTS.values(), load_tokenizer(bpe_tokenizer_dir)), tmp_path / "idf.json")
    with pytest.raises(ModelLoadError, match="decode to another string"):
        package_sparse_tokenizer(bpe_tokenizer_dir, idf, tmp_path / "out")


def test_zip_changed_after_packaging_is_refused(tmp_path: Path, tokenizer_package: MlCommonsPackage) -> None:
    copy = tmp_path / "pkg"
    shutil.copytree(tokenizer_package.directory, copy)
    zip_path = copy / tokenizer_package.zip_path.name
    with zipfile.ZipFile(zip_path, "a") as archive:
        archive.writestr("extra.txt", "x")
    with pytest.raises(ModelLoadError, match="register body"):
        MlCommonsPackage.load(copy)
    body = dict(tokenizer_package.register_body, model_content_hash_value="0" * 64,
                model_content_size_in_bytes=tokenizer_package.size)
    with pytest.raises(ModelLoadError, match="sha256"):
        check_zip(tokenizer_package.zip_path, body)


def test_onnx_package_layout(tmp_path: Path, onnx_dir: Path) -> None:
    import onnx

    package = package_sparse_encoder(onnx_dir, tmp_path / "out", name="enc")
    assert package.register_body["function_name"] == "SPARSE_ENCODING"
    assert package.register_body["model_format"] == "ONNX"
    with zipfile.ZipFile(package.zip_path) as archive:
        assert sorted(archive.namelist()) == ["model.onnx", "tokenizer.json"]
        graph = onnx.load_from_string(archive.read("model.onnx")).graph
        tokenizer_json = json.loads(archive.read("tokenizer.json"))
    assert [i.name for i in graph.input] == list(ML_COMMONS_INPUTS)
    assert tokenizer_json["truncation"]["max_length"] == 512
    with pytest.raises(ConfigError, match="ONNX export"):
        package_sparse_encoder(onnx_dir, tmp_path / "ts", model_format="TORCH_SCRIPT")


def test_truncated_onnx_is_refused(tmp_path: Path, onnx_dir: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(onnx_dir, broken)
    data = (broken / "model.onnx").read_bytes()
    (broken / "model.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match="truncated"):
        package_sparse_encoder(broken, tmp_path / "out")


def test_onnx_with_another_tokenizer_is_refused(tmp_path: Path, onnx_dir: Path, bpe_tokenizer_dir: Path) -> None:
    mixed = tmp_path / "mixed"
    shutil.copytree(onnx_dir, mixed)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        (mixed / name).unlink(missing_ok=True)
    for path in bpe_tokenizer_dir.iterdir():
        shutil.copy(path, mixed / path.name)
    with pytest.raises(ModelLoadError, match="special ids"):
        package_sparse_encoder(mixed, tmp_path / "out")


def test_cli_package_writes_register_json(tmp_path: Path, splade_tiny_dir: Path, idf_path: Path) -> None:
    from sparsedoc.cli.mlcommons_commands import package

    out = tmp_path / "cli-pkg"
    result = CliRunner().invoke(package, ["--model", str(splade_tiny_dir), "--kind", "tokenizer", "--idf",
                                          str(idf_path), "--out-dir", str(out), "--name", "cli-tok"])
    assert result.exit_code == 0, result.output
    record = json.loads((out / "register.json").read_text())
    assert result.output.strip() == str(out / "register.json")
    assert record["sha256"] == record["register_body"]["model_content_hash_value"]
    missing_idf = CliRunner().invoke(package, ["--model", str(splade_tiny_dir), "--kind", "tokenizer",
                                               "--out-dir", str(out)])
    assert missing_idf.exit_code != 0 and "--idf" in missing_idf.output


# -- a real node -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ml(opensearch_url: str) -> Iterator[object]:
    from sparsedoc.plugin.ml_commons.client import ML_SETTINGS, MlCommonsClient

    client = MlCommonsClient(opensearch_url, timeout=240)
    # The test node has a 1 GB heap; ML Commons' heap breaker (85% by default) trips on
    # garbage between deploys there, so tests turn it off (100 = disabled).
    client.configure_cluster({**ML_SETTINGS, "plugins.ml_commons.jvm_heap_memory_threshold": 100})
    created: list[str] = []
    client.created = created  # type: ignore[attr-defined]
    yield client
    for model_id in created:
        try:
            client.delete(model_id)
        except BackendError:
            pass  # deleted by its test already
    client.close()


def _deployed(ml: object, package: MlCommonsPackage, via: str = "url") -> str:
    model_id = ml.register(package, via=via)  # type: ignore[attr-defined]
    ml.created.append(model_id)  # type: ignore[attr-defined]
    ml.deploy(model_id)  # type: ignore[attr-defined]
    return model_id


@pytest.fixture(scope="module")
def tokenizer_model(ml: object, tokenizer_package: MlCommonsPackage) -> str:
    return _deployed(ml, tokenizer_package, via="chunks")


@pytest.fixture(scope="module")
def query_encoder(splade_tiny_dir: Path, idf_path: Path) -> IdfQueryEncoder:
    return IdfQueryEncoder.from_files(splade_tiny_dir, idf_path, unknown_weight=1.0)  # ML Commons' weight


def _assert_close(got: dict[str, float], want: dict[str, float], atol: float) -> None:
    assert set(got) == set(want)
    for token, weight in want.items():
        assert got[token] == pytest.approx(weight, abs=atol), token


@pytest.mark.engine
@pytest.mark.opensearch
def test_sparse_tokenize_matches_idf_query_encoder(ml: object, tokenizer_model: str,
                                                   query_encoder: IdfQueryEncoder) -> None:
    got = ml.predict(tokenizer_model, QUERIES)  # type: ignore[attr-defined]
    for server, client in zip(got, query_encoder.encode_query(QUERIES)):
        _assert_close(dict(server), dict(client), atol=1e-6)  # idf.json is read as float32


@pytest.mark.engine
@pytest.mark.opensearch
def test_register_via_url_and_cli_predict(ml: object, tokenizer_package: MlCommonsPackage, opensearch_url: str,
                                          query_encoder: IdfQueryEncoder) -> None:
    from sparsedoc.cli.mlcommons_commands import predict

    model_id = _deployed(ml, tokenizer_package, via="url")
    # ids are random and may start with '-' (seen: '-3...'), so they go after '--' as the help says
    result = CliRunner().invoke(predict, ["--url", opensearch_url, "--", model_id, QUERIES[0]])
    ml.delete(model_id)  # type: ignore[attr-defined]
    assert result.exit_code == 0, result.output
    _assert_close(json.loads(result.output.splitlines()[0]), dict(query_encoder.encode_query(QUERIES[:1])[0]), 1e-6)


@pytest.mark.engine
@pytest.mark.opensearch
def test_query_text_with_model_ranks_like_query_tokens(opensearch_url: str, tokenizer_model: str,
                                                       query_encoder: IdfQueryEncoder,
                                                       splade_tiny_dir: Path) -> None:
    from sparsedoc.encoder.torch_doc_encoder import TorchDocumentEncoder
    from sparsedoc.plugin.base import EncodedDocument
    from sparsedoc.plugin.opensearch.backend import OpenSearchBackend

    vectors = TorchDocumentEncoder(splade_tiny_dir).encode_document(list(DOCUMENTS.values()))
    backend = OpenSearchBackend(opensearch_url, _name("mlc-rank"), query_mode="neural_sparse")
    backend.create_index()
    try:
        backend.index([EncodedDocument(i, t, v) for (i, t), v in zip(DOCUMENTS.items(), vectors)])
        for query, vector in zip(QUERIES, query_encoder.encode_query(QUERIES)):
            by_tokens = backend.search_sparse(vector, k=6).hits
            answer = backend.client.search(index=backend.index_name, body={"size": 6, "query": {"neural_sparse": {
                backend.vector_field: {"query_text": query, "model_id": tokenizer_model}}}})
            by_model = [(h["_id"], h["_score"]) for h in answer["hits"]["hits"]]
            assert [h.doc_id for h in by_tokens] == [doc_id for doc_id, _ in by_model], query
            for hit, (_, score) in zip(by_tokens, by_model):
                assert score == pytest.approx(hit.score, rel=1e-5)
    finally:
        backend.delete_index()
        backend.close()


@pytest.fixture(scope="module")
def natives_seeded(ml: object) -> None:
    """Seed DJL's PyTorch natives into the node's ml_cache when its data path is on this machine."""
    from sparsedoc.plugin.opensearch.node.djl_natives import seed_djl_pytorch

    nodes = ml._request("node settings", "GET", "/_nodes/settings")["nodes"]  # type: ignore[attr-defined]
    for node in nodes.values():
        data = node["settings"].get("path", {}).get("data")
        data = data[0] if isinstance(data, list) else data
        if not data or not Path(data).is_dir():
            engine_unavailable(f"node data path {data!r} is not on this machine: cannot provide DJL natives")
        try:
            seed_djl_pytorch(Path(data) / "ml_cache")
        except BackendError as err:
            engine_unavailable(f"DJL PyTorch natives unavailable: {err}")


@pytest.mark.engine
@pytest.mark.opensearch
@pytest.mark.parametrize("model_format", ["ONNX", "TORCH_SCRIPT"])
def test_sparse_encoding_pipeline_stores_client_side_weights(
    ml: object, natives_seeded: None, onnx_dir: Path, splade_tiny_dir: Path, tmp_path: Path, opensearch_url: str,
    model_format: str,
) -> None:
    from sparsedoc.cli.mlcommons_commands import deploy
    from sparsedoc.encoder.onnx_doc_encoder import OnnxDocumentEncoder

    source = onnx_dir if model_format == "ONNX" else splade_tiny_dir
    package = package_sparse_encoder(source, tmp_path / "pkg", model_format=model_format, name=_name("enc"))
    index, pipeline = _name("mlc-ingest"), _name("mlc-pipe")
    result = CliRunner().invoke(deploy, [str(package.directory), "--url", opensearch_url, "--via", "chunks",
                                         "--pipeline", pipeline, "--index", index])
    assert result.exit_code == 0, result.output
    model_id = json.loads(result.output)["model_id"]
    ml.created.append(model_id)  # type: ignore[attr-defined]
    client = ml.client  # type: ignore[attr-defined]
    try:
        for doc_id, text in DOCUMENTS.items():
            client.index(index=index, id=doc_id, body={"text": text}, refresh=True)
        want = OnnxDocumentEncoder(onnx_dir).encode_document(list(DOCUMENTS.values()))
        for (doc_id, _), vector in zip(DOCUMENTS.items(), want):
            stored = client.get(index=index, id=doc_id)["_source"]["sparse"]
            assert set(stored) == set(vector), doc_id
            for token, weight in vector.items():
                assert stored[token] == pytest.approx(weight, rel=RANK_FEATURES_RELATIVE_ERROR, abs=ONNX_ATOL)
    finally:
        client.indices.delete(index=index, ignore_unavailable=True)
        ml.delete_ingest_pipeline(pipeline)  # type: ignore[attr-defined]
        ml.delete(model_id)  # type: ignore[attr-defined]  # frees the JVM heap (ML memory breaker)


@pytest.mark.engine
@pytest.mark.opensearch
def test_failed_task_and_bad_requests_are_one_line(ml: object) -> None:
    with pytest.raises(BackendError) as err:
        ml.deploy("no-such-model-id")  # type: ignore[attr-defined]
    assert "\n" not in str(err.value) and "no-such-model-id" in str(err.value)
    with pytest.raises(ConfigError, match="prune_ratio"):
        ml.create_sparse_ingest_pipeline("p", "m", {"text": "sparse"}, prune_type="max_ratio")  # type: ignore[attr-defined]
