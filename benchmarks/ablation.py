"""Training-recipe ablation on three visible collections: teachers alone, the untrained start, and trained variants.

Every model is scored on Cranfield, SciFact (test split) and CISI with its collection's own corpus IDF
(exact in-memory scoring, ``encoder.training.dev_eval``): nDCG@10, Recall@100, FLOPS, mean document
nonzeros (full vocabulary, first 200 documents) and the share of query tokens that occur in a relevant
document's text but get weight 0 in its vector (by count and by IDF mass). Teachers and BM25 are scored
by brute force (BM25 on embedded Lucene).

Training data never contains test queries: pseudo-queries (with BM25 negatives) sampled from all three
corpora, and, where a variant says so, SciFact's 809 labelled *train* queries. Hyper-parameters are
chosen on Cranfield and checked on the other two. Teacher scores and embeddings are cached under
``--work``; training runs are seeded and resume from checkpoints.

Usage:
    nice python -m benchmarks.ablation --work runs/ablation --baselines --variants base,bm25_teacher --steps 150
Writes ``benchmarks/results/ablation.json`` (merged across invocations) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from sparsedoc.cli.environment import jvm_settings
from sparsedoc.encoder.assets import fetch_asset
from sparsedoc.encoder.idf import compute_idf, save_idf
from sparsedoc.encoder.loading import load_tokenizer, model_activation
from sparsedoc.encoder.metrics import evaluate_run
from sparsedoc.encoder.training import read_training_file, score_with_teachers, write_training_file
from sparsedoc.encoder.training.config import load_config, recipe_path
from sparsedoc.encoder.training.data import read_dev_set
from sparsedoc.encoder.training.dev_eval import evaluate_student, mean_nonzeros
from sparsedoc.encoder.training.student import SparseStudent, load_student
from sparsedoc.encoder.training.teachers import make_teacher
from sparsedoc.encoder.training.trainer import train_from_config
from sparsedoc.ingest.adaptation import body_documents, labelled_examples, pseudo_query_examples
from sparsedoc.ingest.readers import read_documents, read_qrels, read_queries
from sparsedoc.plugin.lucene.backend import LuceneBackend

from .datasets import SHARED_DATA

COLLECTIONS = ("cranfield", "scifact", "cisi")
RESULTS = Path(__file__).resolve().parent / "results" / "ablation.json"
MAX_LENGTH = 256

# variant -> (training sources, teachers, config overrides); sources: "pseudo" (all corpora), "scifact-train"
ENSEMBLE = ("dense", "sparse", "bm25")
L0_MASK = {"loss": {"l0_threshold": 200}}
VARIANTS: dict[str, tuple[tuple[str, ...], tuple[str, ...], dict]] = {
    "base": (("pseudo",), ("dense", "sparse"), {}),
    "bm25_teacher": (("pseudo",), ENSEMBLE, {}),
    "bm25_teacher+scifact_train": (("pseudo", "scifact-train"), ENSEMBLE, {}),
    "bm25_teacher+scifact_train/l0_mask": (("pseudo", "scifact-train"), ENSEMBLE, L0_MASK),
    "bm25_teacher+scifact_train/l0_activation": (("pseudo", "scifact-train"), ENSEMBLE,
                                                 L0_MASK | {"student": {"activation": "log1p_log1p"}}),
    "bm25_teacher+label+scifact_train": (("pseudo", "scifact-train"), (*ENSEMBLE, "label"), {}),
    "mpnet_teacher+scifact_train": (("pseudo", "scifact-train"), ("mpnet", "sparse", "bm25"), {}),
    "minilm_student+scifact_train": (("pseudo", "scifact-train"), ENSEMBLE, {"student": {"asset": "all-MiniLM-L6-v2"}}),
    "bm25_teacher/lambda0": (("pseudo",), ENSEMBLE, {"loss": {"flops_weight": 0.0}}),
    "bm25_teacher/lr2e-5": (("pseudo",), ENSEMBLE, {"optimizer": {"lr": 2.0e-5}}),
    "bm25_teacher/lambda1e-3": (("pseudo",), ENSEMBLE, {"loss": {"flops_weight": 1.0e-3}}),
    "sparse+bm25": (("pseudo",), ("sparse", "bm25"), {}),
    "sparse+bm25+scifact_train": (("pseudo", "scifact-train"), ("sparse", "bm25"), {}),
    "sparse+bm25/lambda0": (("pseudo",), ("sparse", "bm25"), {"loss": {"flops_weight": 0.0}}),
    "sparse+bm25/lambda1e-3": (("pseudo",), ("sparse", "bm25"), {"loss": {"flops_weight": 1.0e-3}}),
}


def collection(name: str) -> dict:
    root = SHARED_DATA / name
    documents = list(read_documents(root / "corpus.jsonl"))
    qrels = read_qrels(root / "qrels" / "test.tsv")
    queries = [q for q in read_queries(root / "queries.jsonl") if q.query_id in qrels]
    return {"name": name, "root": root, "documents": documents, "queries": queries, "qrels": qrels,
            "dev": read_dev_set(root / "corpus.jsonl", root / "queries.jsonl", root / "qrels" / "test.tsv")}


def lucene(path: Path, entries) -> LuceneBackend:
    backend = LuceneBackend(path, jvm=jvm_settings())
    if not (path / ".built").is_file():
        backend.create_index(overwrite=True)
        backend.index(entries)
        (path / ".built").write_text("ok")
    return backend


def top_run(scores: np.ndarray, query_ids: list[str], doc_ids: list[str], k: int = 100) -> dict:
    order = np.argsort(-scores, axis=1)[:, :k]
    return {q: {doc_ids[j]: float(scores[i, j]) for j in order[i]} for i, q in enumerate(query_ids)}


def minmax_fuse(runs: list[dict], weights: list[float]) -> dict:
    fused: dict[str, dict[str, float]] = {}
    for run, weight in zip(runs, weights):
        for q, hits in run.items():
            low, high = min(hits.values()), max(hits.values())
            for d, s in hits.items():
                fused.setdefault(q, {})[d] = fused.get(q, {}).get(d, 0.0) + weight * (s - low) / (high - low + 1e-6)
    return fused


def dense_scores(model_dir: Path, c: dict, work: Path, tag: str) -> np.ndarray:
    cache = work / "embeddings" / f"{tag}-{c['name']}.npz"
    if not cache.is_file():
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
        model.max_seq_length = MAX_LENGTH
        docs = model.encode([d.content for d in c["documents"]], batch_size=32, normalize_embeddings=True)
        queries = model.encode([q.text for q in c["queries"]], batch_size=32, normalize_embeddings=True)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, docs=docs, queries=queries)
    data = np.load(cache)
    return data["queries"] @ data["docs"].T


def splade_scores(model_dir: Path, c: dict) -> np.ndarray:
    from sparsedoc.encoder.torch_doc_encoder import TorchDocumentEncoder

    encoder = TorchDocumentEncoder(model_dir, max_length=MAX_LENGTH, batch_size=32)
    docs = [d.content for d in c["documents"]]
    doc_matrix = np.concatenate([encoder.encode_to_array(docs[i : i + 64]) for i in range(0, len(docs), 64)])
    query_matrix = encoder.encode_to_array([q.text for q in c["queries"]])
    return query_matrix @ doc_matrix.T


def teacher_rows(c: dict, work: Path, models: dict[str, Path], dense: bool) -> dict[str, dict]:
    """BM25 on Lucene, the in-memory BM25 teacher, siamese SPLADE-tiny and (when ``dense``) MiniLM and fusions."""
    from sparsedoc.encoder.training.bm25_teacher import Bm25Teacher

    qids, dids = [q.query_id for q in c["queries"]], [d.doc_id for d in c["documents"]]
    bm25 = lucene(work / "index" / c["name"], _full_entries(c))
    runs = {"BM25 (Lucene)": {q.query_id: {h.doc_id: h.score for h in bm25.search_bm25(q.text, 100).hits}
                              for q in c["queries"]}}
    bm25.close()
    docs = [d.content for d in c["documents"]]
    teacher = np.array(Bm25Teacher("bm25").score([q.text for q in c["queries"]], [docs] * len(qids)))
    runs["BM25 teacher (in-memory)"] = top_run(teacher, qids, dids)
    runs["siamese SPLADE-tiny"] = top_run(splade_scores(models["splade-tiny"], c), qids, dids)
    runs["BM25 + SPLADE fused"] = minmax_fuse([runs["BM25 (Lucene)"], runs["siamese SPLADE-tiny"]], [0.5, 0.5])
    if dense:
        runs["dense MiniLM-L6"] = top_run(dense_scores(models["all-MiniLM-L6-v2"], c, work, "minilm"), qids, dids)
        runs["BM25 + MiniLM fused"] = minmax_fuse([runs["BM25 (Lucene)"], runs["dense MiniLM-L6"]], [0.5, 0.5])
        runs["BM25 + MiniLM + SPLADE fused"] = minmax_fuse(
            [runs["BM25 (Lucene)"], runs["dense MiniLM-L6"], runs["siamese SPLADE-tiny"]], [1 / 3] * 3)
    return {name: evaluate_run(run, c["qrels"], ["nDCG@10", "R@100"]) for name, run in runs.items()}


def _full_entries(c: dict):
    from sparsedoc.encoder.sparse_vector import SparseVector
    from sparsedoc.plugin.base import EncodedDocument

    return [EncodedDocument(d.doc_id, d.content, SparseVector()) for d in c["documents"]]


def with_lexical_floor(student: SparseStudent, special_ids: list[int], scale: float, k1: float = 0.9) -> SparseStudent:
    """The student with every own token of a document raised to ``scale * tf (k1 + 1) / (tf + k1)`` (an experiment)."""
    import torch

    network = student.document_weights

    def floored(input_ids, attention_mask, columns):  # noqa: ANN001, ANN202
        weights = network(input_ids, attention_mask, columns)
        valid = (attention_mask > 0) & ~torch.isin(input_ids, torch.tensor(special_ids))
        if columns is None:
            tf = torch.zeros_like(weights).scatter_add_(1, input_ids * valid, valid.float())
        else:
            tf = ((input_ids.unsqueeze(-1) == columns.view(1, 1, -1)) & valid.unsqueeze(-1)).sum(dim=1).float()
        return torch.maximum(weights, scale * tf * (k1 + 1) / (tf + k1))

    student.document_weights = floored
    return student


def model_row(model_dir: Path, collections: list[dict], floor: float | None = None) -> dict[str, dict]:
    """Scores of a model directory, optionally with a lexical floor of scale ``floor`` on its document vectors."""
    tokenizer = load_tokenizer(model_dir)
    student = SparseStudent(load_student(model_dir), model_activation(model_dir))
    if floor:
        student = with_lexical_floor(student, tokenizer.all_special_ids, floor)
    row = {}
    for c in collections:
        idf = compute_idf(c["dev"].doc_texts, tokenizer)
        result = evaluate_student(student, tokenizer, c["dev"], idf, max_length=MAX_LENGTH)
        result["doc_nonzeros"] = mean_nonzeros(student, tokenizer, c["dev"].doc_texts[:200], max_length=MAX_LENGTH)
        row[c["name"]] = result
    return row


def training_sources(collections: list[dict], work: Path, args) -> dict[str, Path]:
    """Unscored training files per source (built once)."""
    sources = {"pseudo": work / "data" / "pseudo.jsonl", "scifact-train": work / "data" / "scifact-train.jsonl"}
    if not sources["pseudo"].is_file():
        examples = []
        for c in collections:
            backend = lucene(work / "index" / f"{c['name']}-bodies", body_documents(c["documents"]))
            examples += pseudo_query_examples(c["documents"], backend, seed=args.seed, max_queries=args.per_corpus)
            backend.close()
        write_training_file(examples, sources["pseudo"])
    if not sources["scifact-train"].is_file():
        c = next(c for c in collections if c["name"] == "scifact")
        train_qrels = read_qrels(c["root"] / "qrels" / "train.tsv")
        queries = [q for q in read_queries(c["root"] / "queries.jsonl") if q.query_id in train_qrels]
        backend = lucene(work / "index" / "scifact", _full_entries(c))
        examples = labelled_examples(queries, train_qrels, {d.doc_id: d for d in c["documents"]}, backend)
        backend.close()
        write_training_file(examples, sources["scifact-train"])
    return sources


def scored_file(source: Path, teachers: tuple[str, ...], models: dict[str, Path], work: Path) -> Path:
    """``source`` scored by ``teachers`` (scores cached per teacher and source)."""
    out = source.with_name(f"{source.stem}.{'+'.join(teachers)}.jsonl")
    if not out.is_file():
        built = [make_teacher(TEACHERS[t][0], t, models[TEACHERS[t][1]] if TEACHERS[t][1] else None)
                 for t in teachers]
        write_training_file(score_with_teachers(read_training_file(source), built, cache_dir=work / "teacher-cache"),
                            out)
    return out


TEACHERS: dict[str, tuple[str, str | None]] = {  # teacher name -> (kind, asset)
    "dense": ("dense", "all-MiniLM-L6-v2"), "mpnet": ("dense", "all-mpnet-base-v2"),
    "sparse": ("sparse", "splade-tiny"), "bm25": ("bm25", None),
    "label": ("label", None)}


def run_variant(name: str, collections: list[dict], sources: dict[str, Path], models: dict[str, Path], work: Path,
                args) -> tuple[Path, float]:
    source_names, teachers, overrides = VARIANTS[name]
    student = dict(overrides.get("student", {}))
    examples = []
    for source in source_names:
        examples += read_training_file(scored_file(sources[source], teachers, models, work))
    folder = work / "runs" / name.replace("/", "--")
    train_file = write_training_file(examples, folder / "train.jsonl")
    idf_path = save_idf(compute_idf([d.content for c in collections for d in c["documents"]],
                                    load_tokenizer(models["splade-tiny"])), work / "idf-all.json")
    config = load_config(recipe_path("adapt"), overrides | {
        "output_dir": str(folder), "train_file": str(train_file), "steps": args.steps,
        "seed": args.seed, "idf": {"path": str(idf_path)}, "cache_dir": str(work / "teacher-cache"),
        "student": {"model_dir": str(models[student.pop("asset", "splade-tiny")])} | student, "eval_every": 0,
        "teachers": [{"name": t, "kind": TEACHERS[t][0]} | ({"model_dir": str(models[asset])} if asset else {})
                     for t in teachers for asset in [TEACHERS[t][1]]],
        "loss": {"warmup_steps": max(1, args.steps // 2)} | overrides.get("loss", {}),
    })
    started = time.time()
    model_dir = train_from_config(config, progress=False)
    return model_dir, time.time() - started


def markdown(results: dict) -> str:
    head = "| model | " + " | ".join(f"{c} nDCG@10" for c in COLLECTIONS) + " | " + \
        " | ".join(f"{c} FLOPS / nnz / dropped own terms (IDF)" for c in COLLECTIONS) + " |"
    lines = [head, "|" + "---|" * (1 + 2 * len(COLLECTIONS))]
    for name, row in results["rows"].items():
        cells = [f"{row[c]['nDCG@10']:.3f}" if c in row else "-" for c in COLLECTIONS]
        extra = []
        for c in COLLECTIONS:
            r = row.get(c, {})
            extra.append(f"{r['flops']:.2f} / {r['doc_nonzeros']:.0f} / {r['dropped_own_terms']:.0%} "
                         f"({r['dropped_own_idf']:.0%})" if "flops" in r else "-")
        lines.append(f"| {name} | " + " | ".join(cells + extra) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("runs/ablation"))
    parser.add_argument("--variants", default="", help=f"comma-separated, of {sorted(VARIANTS)}")
    parser.add_argument("--baselines", action="store_true", help="score BM25, teachers and the untrained start")
    parser.add_argument("--dense", default="", help="collections on which to score the MiniLM teacher (slow on CPU)")
    parser.add_argument("--floors", default="", help="comma-separated lexical-floor scales to score untrained")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--per-corpus", type=int, default=600, help="pseudo-queries sampled per corpus")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    import torch

    torch.set_num_threads(2)
    work = args.work.resolve()
    needed = {"splade-tiny", "all-MiniLM-L6-v2"} | {
        TEACHERS[t][1] for v in filter(None, args.variants.split(",")) for t in VARIANTS[v][1] if TEACHERS[t][1]}
    models = {name: fetch_asset(name) for name in sorted(needed)}
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {"rows": {}}
    collections = [collection(name) for name in COLLECTIONS]

    def save() -> None:  # merge with rows another invocation may have written meanwhile
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        merged = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {"rows": {}}
        for name, row in results["rows"].items():
            merged["rows"].setdefault(name, {}).update(row)
        RESULTS.write_text(json.dumps(merged, indent=1))
        print(markdown(merged), flush=True)

    if args.baselines:
        for c in collections:
            for name, metrics in teacher_rows(c, work, models, c["name"] in args.dense.split(",")).items():
                results["rows"].setdefault(name, {})[c["name"]] = metrics
            save()
        results["rows"]["SPLADE-tiny inference-free, untrained"] = model_row(models["splade-tiny"], collections)
        save()
    for scale in filter(None, args.floors.split(",")):
        results["rows"][f"untrained + lexical floor {scale}"] = model_row(models["splade-tiny"], collections,
                                                                           float(scale))
        save()
    sources = training_sources(collections, work, args) if args.variants else {}
    for name in filter(None, args.variants.split(",")):
        model_dir, seconds = run_variant(name, collections, sources, models, work, args)
        results["rows"][f"trained: {name} ({args.steps} steps)"] = model_row(model_dir, collections) | {
            "train_seconds": round(seconds), "steps": args.steps}
        save()


if __name__ == "__main__":
    main()
