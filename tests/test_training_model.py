"""A tiny random BertForMaskedLM on the real bert-base-uncased vocabulary, trained a few steps."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from sparsedoc.encoder.errors import ConfigError, InputError
from sparsedoc.encoder.training import train
from sparsedoc.encoder.training.student import load_student

pytestmark = pytest.mark.model
VOCAB_DIR = Path.home() / ".cache" / "sparsedoc" / "models" / "all-MiniLM-L6-v2"
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json")
TOPICS = ["wing lift", "boundary layer", "shock wave", "heat transfer", "panel flutter", "jet noise",
          "skin friction", "buckling shells"]


def _tiny_config():
    from transformers import BertConfig

    return BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                      intermediate_size=64, max_position_embeddings=128)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    if not (VOCAB_DIR / "vocab.txt").is_file():
        pytest.skip("bert-base-uncased vocabulary not cached (fetch_asset('all-MiniLM-L6-v2'))")
    from transformers import BertForMaskedLM

    directory = tmp_path_factory.mktemp("tiny-mlm")
    torch.manual_seed(0)
    BertForMaskedLM(_tiny_config()).save_pretrained(str(directory))
    for name in TOKENIZER_FILES:
        if (VOCAB_DIR / name).is_file():
            shutil.copy(VOCAB_DIR / name, directory / name)
    return directory


def _write_run(tmp_path: Path, tiny_dir: Path, **overrides) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    train_file = tmp_path / "train.jsonl"
    with train_file.open("w") as handle:
        for i, topic in enumerate(TOPICS):
            docs = [f"a study of {topic} on a model"] + [f"a study of {TOPICS[(i + k) % 8]} on a model" for k in (1, 2, 3)]
            handle.write(json.dumps({"query": topic, "docs": docs, "scores": {"t": [1.0, 0.2, 0.1, 0.0]}}) + "\n")
    config = {
        "output_dir": str(tmp_path / "out"), "train_file": str(train_file), "steps": 20, "batch_size": 8,
        "docs_per_query": 4, "vocab_sample": 300, "log_every": 1, "seed": 7, "num_threads": 1,
        "student": {"model_dir": str(tiny_dir), "max_length": 32},
        "loss": {"flops_weight": 0.0}, "optimizer": {"lr": 3e-3},
    }
    for key, value in overrides.items():
        config[key] = config[key] | value if isinstance(value, dict) and key in config else value
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _log(output: Path) -> list[dict]:
    return [json.loads(line) for line in (output / "train_log.jsonl").read_text().splitlines()]


def test_loss_falls_and_output_loads(tmp_path, tiny_dir):
    from sparsedoc.encoder.idf_query_encoder import IdfQueryEncoder
    from sparsedoc.encoder.torch_doc_encoder import TorchDocumentEncoder

    model_dir = train(_write_run(tmp_path, tiny_dir), progress=False)
    ranking = [r["ranking"] for r in _log(tmp_path / "out") if "ranking" in r]
    assert sum(ranking[-3:]) / 3 < 0.8 * sum(ranking[:3]) / 3
    assert all(r["seconds"] > 0 for r in _log(tmp_path / "out") if "loss" in r)  # each step's cost is logged
    encoder = TorchDocumentEncoder(model_dir, max_length=32)
    assert len(encoder.encode_document(["a study of wing lift"])[0]) > 0
    query = IdfQueryEncoder.from_files(model_dir, model_dir / "idf.json").encode_query(["wing lift"])[0]
    assert set(dict(query.items())) == {"wing", "lift"}


def test_trained_activation_is_recorded_and_used(tmp_path, tiny_dir):
    """A model trained with log1p_log1p is encoded with it by default, and its start with log1p."""
    from sparsedoc.encoder.loading import model_activation
    from sparsedoc.encoder.torch_doc_encoder import TorchDocumentEncoder

    model_dir = train(_write_run(tmp_path, tiny_dir, steps=2, student={"activation": "log1p_log1p"}), progress=False)
    assert (model_activation(model_dir), model_activation(tiny_dir)) == ("log1p_log1p", "log1p")
    texts = [f"a study of {t}" for t in TOPICS]
    default = TorchDocumentEncoder(model_dir, max_length=32).encode_document(texts)
    explicit = TorchDocumentEncoder(model_dir, max_length=32, activation="log1p_log1p").encode_document(texts)
    plain = TorchDocumentEncoder(model_dir, max_length=32, activation="log1p").encode_document(texts)
    assert [dict(v.items()) for v in default] == [dict(v.items()) for v in explicit]
    assert [dict(v.items()) for v in default] != [dict(v.items()) for v in plain]


def _mean_nonzeros(model_dir: Path) -> float:
    from sparsedoc.encoder.torch_doc_encoder import TorchDocumentEncoder

    vectors = TorchDocumentEncoder(model_dir, max_length=32).encode_document([f"a study of {t}" for t in TOPICS])
    return sum(len(v) for v in vectors) / len(vectors)


def test_sparsity_rises_with_lambda(tmp_path, tiny_dir):
    dense = train(_write_run(tmp_path / "a", tiny_dir, steps=12), progress=False)
    sparse = train(_write_run(tmp_path / "b", tiny_dir, steps=12, loss={"flops_weight": 0.05}), progress=False)
    assert _mean_nonzeros(sparse) < 0.7 * _mean_nonzeros(dense)


def test_resume_matches_uninterrupted_run(tmp_path, tiny_dir):
    from safetensors.torch import load_file

    config = _write_run(tmp_path, tiny_dir, steps=6, checkpoint_every=2)
    reference = train(config, progress=False)
    want = load_file(reference / "model.safetensors")
    assert sorted(p.name for p in (tmp_path / "out" / "checkpoints").glob("step-*")) == ["step-0000002", "step-0000004"]
    shutil.rmtree(reference)  # what a run killed during step 5 leaves behind: checkpoints up to step 4, no model
    resumed = train(config, progress=False)
    assert [r["step"] for r in _log(tmp_path / "out") if "loss" in r] == [1, 2, 3, 4, 5, 6, 5, 6]  # from step 4 on
    got = load_file(resumed / "model.safetensors")
    assert want.keys() == got.keys()
    for key in want:
        torch.testing.assert_close(got[key], want[key], rtol=0, atol=1e-6)


def test_encoder_only_checkpoint_gets_tied_head(tmp_path, tiny_dir):
    from transformers import BertModel

    BertModel(_tiny_config()).save_pretrained(str(tmp_path))
    shutil.copy(tiny_dir / "vocab.txt", tmp_path / "vocab.txt")
    model = load_student(tmp_path)
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight


def test_empty_training_file_fails_before_compute(tmp_path, tiny_dir):
    config = _write_run(tmp_path, tiny_dir)
    (tmp_path / "train.jsonl").write_text("\n")
    with pytest.raises(InputError, match="no examples"):
        train(config, progress=False)
    assert not (tmp_path / "out").exists()


def test_sparse_teacher_with_foreign_tokenizer(tmp_path, tiny_dir):
    teacher = tmp_path / "teacher"
    teacher.mkdir()
    (teacher / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (teacher / "model.safetensors").write_bytes(b"")
    (teacher / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "wing", "lift"]))
    config = _write_run(tmp_path, tiny_dir, teachers=[{"name": "s", "kind": "sparse", "model_dir": str(teacher)}])
    with pytest.raises(ConfigError, match="does not fit the student's vocabulary"):
        train(config, progress=False)


def test_kl_without_teachers_or_scores(tmp_path, tiny_dir):
    config = _write_run(tmp_path, tiny_dir)
    (tmp_path / "train.jsonl").write_text('{"query": "q", "pos": "p", "negs": ["n"]}\n')
    with pytest.raises(InputError, match="no teacher scores"):
        train(config, progress=False)


def test_dev_eval_counts_dropped_own_terms(tiny_dir):
    from sparsedoc.encoder.loading import load_tokenizer
    from sparsedoc.encoder.training.data import DevSet
    from sparsedoc.encoder.training.dev_eval import evaluate_student
    from sparsedoc.encoder.training.student import SparseStudent

    tokenizer = load_tokenizer(tiny_dir)
    student = SparseStudent(load_student(tiny_dir))
    dev = DevSet(["d1", "d2"], ["wing lift", "shock wave"], {"q": "wing flutter"}, {"q": {"d1": 1}})
    original = student.document_weights

    def only_lift(ids, mask, columns):  # the document keeps "lift" and drops its own "wing"
        weights = torch.zeros(len(ids), len(columns))
        weights[:, columns == tokenizer.convert_tokens_to_ids("lift")] = 1.0
        return weights

    student.document_weights = only_lift
    result = evaluate_student(student, tokenizer, dev, {"wing": 2.0, "flutter": 3.0, "lift": 1.0})
    student.document_weights = original
    # "wing" occurs in d1's text (d1 is relevant) and gets weight 0; "flutter" does not occur in d1
    assert result["dropped_own_terms"] == 1.0 and result["dropped_own_idf"] == 1.0
    assert result["flops"] == 0.0  # no query column is active in any document


def test_several_dev_sets_are_logged_with_diagnostics(tmp_path, tiny_dir):
    dev_sets = []
    for name, topics in (("own", TOPICS[:4]), ("other", TOPICS[4:])):
        root = tmp_path / name
        (root / "qrels").mkdir(parents=True)
        (root / "corpus.jsonl").write_text("".join(
            json.dumps({"_id": f"d{i}", "title": "", "text": f"a study of {t} on a model"}) + "\n"
            for i, t in enumerate(topics)))
        (root / "queries.jsonl").write_text("".join(json.dumps({"_id": f"q{i}", "text": t}) + "\n"
                                                    for i, t in enumerate(topics)))
        (root / "qrels" / "test.tsv").write_text("".join(f"q{i}\td{i}\t1\n" for i in range(len(topics))))
        dev_sets.append({"name": name, "corpus": str(root / "corpus.jsonl"), "queries": str(root / "queries.jsonl"),
                         "qrels": str(root / "qrels" / "test.tsv")})
    train(_write_run(tmp_path / "run", tiny_dir, steps=4, eval_every=2, dev=dev_sets), progress=False)
    evaluations = [r for r in _log(tmp_path / "run" / "out") if "dev" in r]
    assert [r["step"] for r in evaluations] == [2, 4]
    for record in evaluations:
        assert set(record["dev"]) == {"own", "other"}
        for metrics in record["dev"].values():
            assert {"nDCG@10", "R@100", "flops", "dropped_own_terms", "dropped_own_idf"} <= set(metrics)
            assert 0 <= metrics["dropped_own_terms"] <= 1 and metrics["nDCG@10"] > 0
