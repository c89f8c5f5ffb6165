"""Training of inference-free sparse document encoders (Geng et al., arXiv 2411.04403).

Entry points (plain functions the CLI wraps):

- ``train(config_path) -> Path``: run a YAML-configured training; returns the model directory
  (HF fill-mask checkpoint + tokenizer + ``idf.json``).
- ``score_with_teachers(examples, teachers, cache_dir=...)``: add cached teacher scores.
- ``generate_pseudo_queries(documents, seed=...)``: queries for an unlabeled corpus.
- ``mine_hard_negatives(queries, backend, documents)``: BM25 negatives through a backend.
- ``evaluate_student(student, tokenizer, dev, idf)``: exact dev-set nDCG@10, FLOPS and dropped-own-terms shares.

Submodules load torch only when used; importing this package is cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "train": "trainer",
    "load_config": "config",
    "TrainConfig": "config",
    "score_with_teachers": "teachers",
    "make_teacher": "teachers",
    "DenseTeacher": "teachers",
    "SparseTeacher": "teachers",
    "Bm25Teacher": "bm25_teacher",
    "evaluate_student": "dev_eval",
    "generate_pseudo_queries": "pseudo_queries",
    "PseudoQuery": "pseudo_queries",
    "mine_hard_negatives": "data",
    "read_training_file": "data",
    "write_training_file": "data",
    "TrainingExample": "data",
    "InferenceFreeSparseLoss": "sparse_loss",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
