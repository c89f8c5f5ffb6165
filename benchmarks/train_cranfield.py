"""CPU recipe: train an inference-free doc encoder from SPLADE-tiny on Cranfield documents only.

Pseudo-queries from the documents (never Cranfield's queries) -> BM25 hard negatives -> dense
(all-MiniLM-L6-v2) + sparse (SPLADE-tiny siamese) teacher scores (cached) -> training runs
(main + ablations) -> evaluation on Cranfield's real queries with full-vocabulary document vectors
and IDF queries. Writes ``<out>/results.json`` and ``<out>/results.md``.

Usage:
    nice python benchmarks/train_cranfield.py --out runs/cranfield --main-steps 600 --ablation-steps 200
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np

from sparsedoc.cli.environment import jvm_settings
from sparsedoc.encoder.assets import fetch_asset
from sparsedoc.encoder.idf import compute_idf, load_idf, save_idf
from sparsedoc.encoder.idf_query_encoder import IdfQueryEncoder
from sparsedoc.encoder.loading import load_tokenizer
from sparsedoc.encoder.metrics import evaluate_run, sparsity_stats
from sparsedoc.encoder.torch_doc_encoder import TorchDocumentEncoder
from sparsedoc.encoder.training import generate_pseudo_queries, mine_hard_negatives, train, write_training_file
from sparsedoc.encoder.training.pseudo_queries import document_body
from sparsedoc.ingest.readers import read_documents, read_qrels, read_queries
from sparsedoc.encoder.sparse_vector import SparseVector
from sparsedoc.plugin.base import EncodedDocument
from sparsedoc.plugin.lucene.backend import LuceneBackend
from sparsedoc.cli.logs import setup_logging

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cranfield"
RECIPE = Path(__file__).resolve().parents[1] / "encoder" / "training" / "recipes" / "cranfield.yaml"


def lucene_bm25(texts: dict[str, str], path: Path) -> LuceneBackend:
    """A Lucene index of ``texts`` (no vectors) for BM25: Anserini's analyzer, k1 0.9, b 0.4."""
    backend = LuceneBackend(path, jvm=jvm_settings())
    backend.create_index(overwrite=True)
    backend.index(EncodedDocument(doc_id, text, SparseVector()) for doc_id, text in texts.items())
    return backend


def evaluate_sparse(doc_vectors, query_vectors, doc_ids, query_ids, qrels) -> dict[str, float]:
    run = {}
    for qid, q in zip(query_ids, query_vectors):
        scores = {d: sum(w * v.get(t, 0.0) for t, w in q.items()) for d, v in zip(doc_ids, doc_vectors)}
        run[qid] = dict(sorted(scores.items(), key=lambda x: -x[1])[:100])
    quality = evaluate_run(run, qrels, ["nDCG@10", "R@100"])
    stats = sparsity_stats([dict(v.items()) for v in doc_vectors], [dict(q.items()) for q in query_vectors])
    return quality | {"doc_nonzeros_mean": stats.mean_nonzeros, "doc_nonzeros_p99": stats.p99_nonzeros, "flops": stats.flops}


def evaluate_model(model_dir: Path, idf_path: Path, documents, queries, qrels) -> dict[str, float]:
    encoder = TorchDocumentEncoder(model_dir, max_length=512, batch_size=32)
    doc_vectors = encoder.encode_document([d.content for d in documents])
    query_encoder = IdfQueryEncoder(encoder.tokenizer, load_idf(idf_path))
    query_vectors = query_encoder.encode_query([q.text for q in queries])
    return evaluate_sparse(doc_vectors, query_vectors, [d.doc_id for d in documents], [q.query_id for q in queries], qrels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/cranfield"))
    parser.add_argument("--main-steps", type=int, default=600)
    parser.add_argument("--ablation-steps", type=int, default=200)
    parser.add_argument("--runs", default="main,main_short,lambda0,no_idf,dense_only,sparse_only")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--max-queries", type=int, default=0, help="use only this many pseudo-queries (0: all)")
    parser.add_argument("--negatives", type=int, default=3)
    args = parser.parse_args()
    models = {name: fetch_asset(name) for name in ("splade-tiny", "all-MiniLM-L6-v2")}
    setup_logging(1, quiet_libraries=True)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}

    documents = list(read_documents(DATA / "corpus.jsonl"))
    queries = list(read_queries(DATA / "queries.jsonl"))
    qrels = read_qrels(DATA / "qrels" / "test.tsv")
    queries = [q for q in queries if q.query_id in qrels]
    tokenizer = load_tokenizer(models["splade-tiny"])
    idf_path = save_idf(compute_idf([d.content for d in documents], tokenizer), out / "idf.json")

    # 1. training data: pseudo-queries from documents only, BM25 negatives on title-stripped bodies
    train_file = out / "train.jsonl"
    if not train_file.is_file():
        bodies = {d.doc_id: document_body(d.text, d.title) for d in documents}
        bm25 = lucene_bm25(bodies, out / "bm25-bodies")
        pseudo = generate_pseudo_queries(documents, seed=args.seed, per_document=1)
        if args.max_queries:
            random.Random(args.seed).shuffle(pseudo)
            pseudo = pseudo[: args.max_queries]
        examples = mine_hard_negatives(pseudo, bm25, bodies, num_negatives=args.negatives, depth=30)
        write_training_file(examples, train_file)
        (out / "pseudo_queries_sample.json").write_text(json.dumps(
            [{"doc_id": q.doc_id, "strategy": q.strategy, "query": q.query} for q in pseudo[:20]], indent=1))

    # 2. baselines on the real queries
    if "bm25" not in results:
        bm25 = lucene_bm25({d.doc_id: d.content for d in documents}, out / "bm25-documents")
        run = {q.query_id: bm25.search_bm25(q.text, 100).scores() for q in queries}
        results["bm25"] = evaluate_run(run, qrels, ["nDCG@10", "R@100"])
    if "splade_tiny_inference_free" not in results:
        results["splade_tiny_inference_free"] = evaluate_model(models["splade-tiny"], idf_path, documents, queries, qrels)
    if "dense_teacher" not in results:
        from sentence_transformers import SentenceTransformer

        dense = SentenceTransformer(str(models["all-MiniLM-L6-v2"]), device="cpu")
        dense.max_seq_length = 256
        d = dense.encode([x.content for x in documents], normalize_embeddings=True, batch_size=32)
        q = dense.encode([x.text for x in queries], normalize_embeddings=True, batch_size=32)
        scores = q @ d.T
        run = {qq.query_id: {documents[j].doc_id: float(scores[i, j]) for j in np.argsort(-scores[i])[:100]}
               for i, qq in enumerate(queries)}
        results["dense_teacher"] = evaluate_run(run, qrels, ["nDCG@10", "R@100"])
    results_path.write_text(json.dumps(results, indent=1))

    # 3. training runs
    variants = {
        "main": ({}, args.main_steps),
        "main_short": ({}, args.ablation_steps),
        "lambda0": ({"loss": {"flops_weight": 0.0}}, args.ablation_steps),
        "no_idf": ({"loss": {"idf_aware": False}}, args.ablation_steps),
        "dense_only": ({"teachers": [{"name": "dense", "kind": "dense", "model_dir": str(models["all-MiniLM-L6-v2"])}]},
                       args.ablation_steps),
        "sparse_only": ({"teachers": [{"name": "sparse", "kind": "sparse", "model_dir": str(models["splade-tiny"])}]},
                        args.ablation_steps),
    }
    for name in args.runs.split(","):
        if name in results and "nDCG@10" in results[name]:
            continue
        overrides, steps = variants[name]
        paths = {
            "student": {"model_dir": str(models["splade-tiny"])},
            "teachers": [{"name": "dense", "kind": "dense", "model_dir": str(models["all-MiniLM-L6-v2"])},
                         {"name": "sparse", "kind": "sparse", "model_dir": str(models["splade-tiny"])}],
            "dev": {"corpus": str(DATA / "corpus.jsonl"), "queries": str(DATA / "queries.jsonl"),
                    "qrels": str(DATA / "qrels" / "test.tsv")},
        }
        overrides = paths | overrides | {"steps": steps, "output_dir": str(out / name), "train_file": str(train_file),
                                 "idf": {"path": str(idf_path)}, "cache_dir": str(out / "teacher-cache"),
                                 "eval_every": steps // 2 if name == "main" else 0, "seed": args.seed,
                                 "checkpoint_every": 50}
        overrides["loss"] = {"warmup_steps": max(1, steps // 2)} | overrides.get("loss", {})
        started = time.time()
        model_dir = train(RECIPE, overrides=overrides)
        train_seconds = time.time() - started
        results[name] = evaluate_model(model_dir, model_dir / "idf.json", documents, queries, qrels) | {
            "steps": steps, "train_seconds": round(train_seconds)}
        results_path.write_text(json.dumps(results, indent=1))
        write_markdown(results, out / "results.md")
    write_markdown(results, out / "results.md")


def write_markdown(results: dict, path: Path) -> None:
    lines = ["| run | steps | nDCG@10 | R@100 | doc nonzeros (mean / p99) | FLOPS | train s |",
             "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        nnz = f"{r['doc_nonzeros_mean']:.0f} / {r['doc_nonzeros_p99']:.0f}" if "doc_nonzeros_mean" in r else "-"
        flops = f"{r['flops']:.2f}" if "flops" in r else "-"
        lines.append(f"| {name} | {r.get('steps', '-')} | {r['nDCG@10']:.4f} | {r['R@100']:.4f} | {nnz} | {flops} | "
                     f"{r.get('train_seconds', '-')} |")
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
