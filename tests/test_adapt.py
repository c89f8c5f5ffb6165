"""`sparsedoc adapt`: pseudo-queries -> teacher scores -> training -> a loadable model, resumable, on Lucene."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import write_cranfield_subset

pytestmark = [pytest.mark.engine, pytest.mark.model]


@pytest.fixture(scope="module")
def small_beir(tmp_path_factory: pytest.TempPathFactory, cranfield_dir: Path) -> Path:
    """The first 60 Cranfield documents, with the test queries that have a judged document among them."""
    return write_cranfield_subset(cranfield_dir, tmp_path_factory.mktemp("small-beir"), 60)


@pytest.fixture(scope="module")
def sparse_tiny_dir(tiny_mlm_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tiny_mlm_dir`` with a negative MLM bias: tens of active tokens per document, not thousands."""
    import torch
    from transformers import BertForMaskedLM

    model = BertForMaskedLM.from_pretrained(tiny_mlm_dir)
    torch.manual_seed(0)
    with torch.no_grad():
        model.cls.predictions.bias.normal_(-3.0, 1.0)
    directory = tmp_path_factory.mktemp("sparse-tiny")
    model.save_pretrained(directory)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(tiny_mlm_dir / name, directory / name)
    return directory


def _command(small_beir: Path, out: Path, model: Path, steps: int) -> list[str]:
    return [sys.executable, "-m", "sparsedoc.cli.main", "adapt", str(small_beir), "--workdir", str(out), "--model", str(model),
            "--teacher", "bm25:bm25", "--teacher", f"sparse:sparse:{model}", "--steps", str(steps),
            "--max-length", "64", "--no-progress"]


def _logged_steps(out: Path) -> list[int]:
    lines = (out / "train_log.jsonl").read_text().splitlines()
    return [record["step"] for record in map(json.loads, lines) if "loss" in record]


def test_adapt_interrupted_resumes_and_evaluates(small_beir: Path, sparse_tiny_dir: Path, tmp_path: Path) -> None:
    from sparsedoc.encoder.torch_doc_encoder import TorchDocumentEncoder

    out, steps = tmp_path / "adapt", 20
    process = subprocess.Popen(_command(small_beir, out, sparse_tiny_dir, steps), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    log = out / "train_log.jsonl"
    while process.poll() is None and not (log.is_file() and log.read_text().strip()):
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    saved = sorted((out / "checkpoints").glob("step-*"))
    assert saved and 0 < int(saved[-1].name.split("-")[1]) < steps
    assert not (out / "model").exists()

    done = subprocess.run(_command(small_beir, out, sparse_tiny_dir, steps), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    logged = _logged_steps(out)
    assert logged == sorted(set(logged)) and logged[-1] == steps  # resumed, nothing repeated or skipped
    assert logged == list(range(10, steps + 1, 10))
    model_dir = Path(done.stdout.strip().splitlines()[-1])
    assert model_dir == out / "model" and (model_dir / "idf.json").is_file()
    table = done.stdout
    assert "BM25" in table and "inference-free, before" in table and "inference-free, after" in table
    best = json.loads((out / "best.json").read_text())
    assert [e["step"] for e in best["history"]][0] == 0  # the start is scored too
    assert best["kept_step"] in [e["step"] for e in best["history"]] and "kept step" in done.stderr
    chosen = json.loads((model_dir / "smoothing.json").read_text())
    assert len(chosen["candidates"]) > 1 and "held-out MRR@10" in done.stderr
    vector = TorchDocumentEncoder(model_dir, max_length=64).encode_document(["lift of a wing in a slipstream"])[0]
    assert len(vector) > 0


def test_adapt_refuses_training_on_the_evaluation_split(small_beir: Path, tiny_mlm_dir: Path, tmp_path: Path) -> None:
    command = [*_command(small_beir, tmp_path / "a", tiny_mlm_dir, 2), "--train-split", "test"]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 2 and "--train-split" in done.stderr


def test_labelled_examples_take_negatives_from_a_real_bm25_search(small_beir: Path, lucene_backend_cls: type,
                                                                  tmp_path: Path) -> None:
    """Judged queries -> (query, positive, BM25 negatives) through embedded Lucene (`adapt --train-split`)."""
    from sparsedoc.ingest.adaptation import body_documents, labelled_examples
    from sparsedoc.ingest.readers import BeirDataset, read_qrels, read_queries

    documents = {d.doc_id: d for d in BeirDataset.open(small_beir).documents()}
    qrels = read_qrels(small_beir / "qrels" / "test.tsv")
    queries = [q for q in read_queries(small_beir / "queries.jsonl") if q.query_id in qrels]
    with lucene_backend_cls(tmp_path / "bm25") as bm25:
        bm25.create_index()
        bm25.index(body_documents(documents.values()))
        examples = labelled_examples(queries, qrels, documents, bm25, negatives=2, depth=10)
        hits = {q.text: bm25.search_bm25(q.text, 10 + len(qrels[q.query_id])).doc_ids for q in queries}
    judged = {q.text: qrels[q.query_id] for q in queries}
    assert examples
    content = {d.content: doc_id for doc_id, d in documents.items()}
    for example in examples:
        positive, *negatives = (content[text] for text in example.docs)
        assert judged[example.query][positive] > 0
        assert 1 <= len(negatives) <= 2
        assert all(judged[example.query].get(n, 0) <= 0 and n in hits[example.query] for n in negatives)
