"""The training loop: preflight checks, teacher scoring, sampled-vocabulary steps, eval, checkpoints.

``train(config_path) -> Path`` runs a YAML-configured training and returns a directory that
``TorchDocumentEncoder`` loads directly (HF fill-mask checkpoint, tokenizer, ``idf.json``).
Layout of ``output_dir``: ``model/`` (final), ``checkpoints/step-NNNNNNN/state.pt`` (resume),
``train_log.jsonl`` (loss parts and the step's seconds every ``log_every`` steps, dev nDCG@10 at each eval),
``config.json``.

Ctrl-C (SIGINT) stops the run between two steps after saving a checkpoint, and raises
``KeyboardInterrupt``; running the same config again resumes there.

Every check that can fail (config, files, tokenizers, IDF table, training data) runs before any
model is loaded. Runs are reproducible from ``seed``: the data order of epoch ``e`` comes from
``Random(seed, e)``, the vocabulary sample of step ``t`` from a generator seeded with ``(seed, t)``,
and a resumed run restores the optimizer, scheduler, step and torch/numpy/python RNG states.
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ConfigError, InputError
from ..idf import compute_idf, load_idf, save_idf
from ..loading import ACTIVATION_KEY, check_model_dir, load_tokenizer, model_activation
from .best_model import BestModel
from .checkpoints import StopRequest, resume_checkpoint, save_checkpoint
from .config import DevConfig, TrainConfig, load_config
from .data import DevSet, TrainingExample, read_dev_set, read_training_file
from .ensemble import ensemble_targets
from .idf_scoring import TrainableIdf, idf_aware_scores, idf_vector, query_presence
from .sparse_loss import InferenceFreeSparseLoss
from .student import SparseStudent, load_student, sample_columns

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

logger = logging.getLogger(__name__)


def train(config_path: str | Path, *, overrides: dict[str, object] | None = None, progress: bool = True) -> Path:
    """Train from a YAML config (``overrides`` patch top-level keys); return the model directory.

    Raises:
        ConfigError: invalid config, unusable model/tokenizer combination, bad IDF table.
        InputError: missing or malformed training/dev files, or an empty training file.
        ModelLoadError: a model directory is missing or broken.
    """
    return train_from_config(load_config(config_path, overrides), progress=progress)


@dataclass
class _Prepared:
    tokenizer: PreTrainedTokenizerBase
    examples: list[TrainingExample]
    idf: dict[str, float]
    dev_sets: list[tuple[DevConfig, DevSet, dict[str, float]]]


def preflight(config: TrainConfig) -> _Prepared:
    """All cheap checks and data loading; raises before any model is loaded."""
    check_model_dir(config.student.model_dir)
    tokenizer = load_tokenizer(config.student.model_dir)
    student_config = json.loads((config.student.model_dir / "config.json").read_text(encoding="utf-8"))
    vocab_size = int(student_config.get("vocab_size", 0))
    if vocab_size < len(tokenizer):
        raise ConfigError(f"student {config.student.model_dir}: vocab_size {vocab_size} "
                          f"< tokenizer size {len(tokenizer)}")
    vocabulary = tokenizer.get_vocab()
    for teacher in config.teachers:
        if teacher.model_dir is None:
            continue
        check_model_dir(teacher.model_dir)
        if teacher.kind == "sparse":
            teacher_vocabulary = load_tokenizer(teacher.model_dir).get_vocab()
            if teacher_vocabulary != vocabulary:
                differing = sorted(set(teacher_vocabulary.items()) ^ set(vocabulary.items()))[:3]
                raise ConfigError(
                    f"sparse teacher {teacher.name!r}: its tokenizer ({len(teacher_vocabulary)} tokens) does not fit "
                    f"the student's vocabulary ({len(vocabulary)} tokens; e.g. {differing})")
    examples = read_training_file(config.train_file)
    usable = [e for e in examples if len(e.docs) >= 2]
    if not usable:
        raise InputError("no example has a negative (each needs a positive and >= 1 negative)", path=config.train_file)
    if not config.teachers and config.loss.ranking != "info_nce":
        unscored = next((i for i, e in enumerate(usable) if not e.scores), None)
        if unscored is not None:
            raise InputError(f"example {unscored + 1} has no teacher scores and the config lists no teachers "
                             f"(loss.ranking={config.loss.ranking!r} needs them; add teachers or use 'info_nce')",
                             path=config.train_file)
    if len(usable) < len(examples):
        logger.warning("dropped %d examples without negatives", len(examples) - len(usable))
    if config.idf.path is not None:
        idf = load_idf(config.idf.path)
    else:
        idf = compute_idf(list(dict.fromkeys(d for e in usable for d in e.docs)), tokenizer)
    idf_vector(idf, vocabulary, vocab_size)  # raises on tokens outside the vocabulary
    dev_sets = []
    for spec in config.dev:
        dev = read_dev_set(spec.corpus, spec.queries, spec.qrels, spec.max_queries)
        if not dev.queries:
            raise InputError("dev set has no judged queries", path=spec.qrels)
        dev_sets.append((spec, dev, compute_idf(dev.doc_texts, tokenizer) if spec.idf == "corpus" else {}))
    return _Prepared(tokenizer, usable, idf, dev_sets)


def _attach_teacher_scores(config: TrainConfig, examples: list[TrainingExample]) -> list[TrainingExample]:
    from ..assets import cache_home
    from .teachers import make_teacher, score_with_teachers

    cache_dir = config.cache_dir or cache_home() / "teacher-scores"
    for spec in config.teachers:
        missing = [i for i, e in enumerate(examples) if spec.name not in e.scores]
        if not missing:
            continue
        teacher = make_teacher(spec.kind, spec.name, spec.model_dir, max_length=spec.max_length,
                               batch_size=spec.batch_size)
        scored = score_with_teachers([examples[i] for i in missing], [teacher], cache_dir=cache_dir)
        for i, example in zip(missing, scored, strict=True):
            examples[i].scores[spec.name] = example.scores[spec.name]
    return examples


def train_from_config(config: TrainConfig, *, progress: bool = True) -> Path:
    """Run training for a validated config; see ``train``."""
    import torch
    from tqdm.auto import tqdm

    prepared = preflight(config)
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    _seed_everything(config.seed)
    output = Path(config.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    (output / "config.json").write_text(config.model_dump_json(indent=2), encoding="utf-8")
    examples = _attach_teacher_scores(config, prepared.examples)
    teacher_names = [t.name for t in config.teachers] or sorted({n for e in examples for n in e.scores})
    weights = {t.name: t.weight for t in config.teachers} or None

    tokenizer = prepared.tokenizer
    model = load_student(config.student.model_dir)
    model.train()
    activation = config.student.activation or model_activation(config.student.model_dir)
    student = SparseStudent(model, activation)
    vocab_size = student.vocab_size
    special = {i for i in tokenizer.all_special_ids if i is not None and i >= 0}
    idf = TrainableIdf(idf_vector(prepared.idf, tokenizer.get_vocab(), vocab_size), trainable=config.idf.trainable)
    loss_fn = InferenceFreeSparseLoss(config.loss.ranking, config.loss.flops_weight, config.loss.warmup_steps,
                                      config.loss.temperature, config.loss.l0_threshold)
    optimizer, scheduler = _optimizer(config, model, idf)
    checkpoints = output / "checkpoints"
    step = resume_checkpoint(checkpoints, model, optimizer, scheduler, idf) if config.resume else 0
    if step:
        logger.info("resumed from step %d", step)

    batches_per_epoch = max(1, len(examples) // config.batch_size)
    best = BestModel(output, config.keep_best) if config.keep_best else None

    def save(directory: Path) -> Path:
        return save_model(directory, model, tokenizer, idf.to_table(_vocabulary(tokenizer), special),
                          activation)

    if best is not None and step == 0 and not best.has_start:
        best.offer(0, evaluate_dev_sets(config, student, tokenizer, idf, prepared.dev_sets), save)
    log = (output / "train_log.jsonl").open("a", encoding="utf-8")
    bar = tqdm(total=config.steps, initial=step, disable=not progress, desc="train", dynamic_ncols=True)
    stop = StopRequest()
    try:
        while step < config.steps:
            if stop.requested:
                save_checkpoint(checkpoints, step, model, optimizer, scheduler, idf)
                bar.write(f"interrupted: checkpoint at step {step} saved; run again to resume")
                raise KeyboardInterrupt
            started = time.perf_counter()
            epoch, position = divmod(step, batches_per_epoch)
            order = list(range(len(examples)))
            random.Random(f"{config.seed}:{epoch}").shuffle(order)
            picked = order[position * config.batch_size : (position + 1) * config.batch_size]
            batch = [_select_docs(examples[i], config.docs_per_query, f"{config.seed}:{epoch}:{i}") for i in picked]
            parts, nonzeros = _train_step(config, batch, step, tokenizer, student, idf, loss_fn, teacher_names,
                                          weights, special, vocab_size)
            parts["loss"].backward()
            torch.nn.utils.clip_grad_norm_(
                [p for g in optimizer.param_groups for p in g["params"]], config.optimizer.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            record = {k: float(v.detach()) for k, v in parts.items()} | {
                "step": step, "nonzeros_per_doc": nonzeros, "seconds": round(time.perf_counter() - started, 4)}
            bar.set_postfix(loss=f"{record['loss']:.4f}", flops=f"{record['flops']:.2f}", nnz=f"{nonzeros:.0f}")
            bar.update(1)
            if step % config.log_every == 0 or step == config.steps:
                log.write(json.dumps(record) + "\n")
                log.flush()
            if prepared.dev_sets and config.eval_every and (step % config.eval_every == 0 or step == config.steps):
                result = evaluate_dev_sets(config, student, tokenizer, idf, prepared.dev_sets)
                log.write(json.dumps({"step": step, "dev": result}) + "\n")
                log.flush()
                scores = ", ".join(f"{n} {r['nDCG@10']:.4f}" for n, r in result.items())
                bar.write(f"step {step}: dev nDCG@10 {scores}")
                if best is not None:
                    best.offer(step, result, save)
            if config.checkpoint_every and step % config.checkpoint_every == 0 and step < config.steps:
                save_checkpoint(checkpoints, step, model, optimizer, scheduler, idf)
    finally:
        stop.restore()
        bar.close()
        log.close()
    final = save(output / "model")
    if best is not None:
        best.finish(final)
        logger.info("%s", best.summary())
    return final




def _train_step(config: TrainConfig, batch: list[TrainingExample], step: int, tokenizer: PreTrainedTokenizerBase,
                student: SparseStudent, idf: TrainableIdf, loss_fn: InferenceFreeSparseLoss, teacher_names: list[str],
                weights: dict[str, float] | None, special: set[int],
                vocab_size: int) -> tuple[dict[str, torch.Tensor], float]:
    import torch

    queries = [e.query for e in batch]
    group = config.docs_per_query
    query_ids = tokenizer(queries, add_special_tokens=False, verbose=False)["input_ids"]
    flat_docs, owner = [], []
    mask = torch.zeros(len(batch), group, dtype=torch.bool)
    for qi, example in enumerate(batch):
        for di, doc in enumerate(example.docs[:group]):
            flat_docs.append(doc)
            owner.append((qi, di))
            mask[qi, di] = True
    encoded = tokenizer(flat_docs, padding=True, truncation=True, max_length=config.student.max_length,
                        return_tensors="pt", verbose=False)
    generator = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
    sample = sample_columns({t for ids in query_ids for t in ids}, vocab_size, special, config.vocab_sample, generator)
    doc_weights = student.document_weights(encoded["input_ids"], encoded["attention_mask"], sample.columns)
    presence = query_presence(query_ids, sample.columns)
    query_idf = idf.values(sample.columns) if config.loss.idf_aware else None
    all_scores = idf_aware_scores(presence, doc_weights, query_idf)
    rows = torch.tensor([q for q, _ in owner])
    cols = torch.tensor([d for _, d in owner])
    student_scores = torch.zeros(len(batch), group).index_put((rows, cols), all_scores[rows, torch.arange(len(owner))])
    teacher = {}
    for name in teacher_names:
        matrix = torch.zeros(len(batch), group)
        for qi, example in enumerate(batch):
            values = example.scores.get(name)
            if values is None:
                raise InputError(f"an example has no scores from teacher {name!r}")
            matrix[qi, : min(group, len(values))] = torch.tensor(values[:group])
        teacher[name] = matrix
    targets = (ensemble_targets(teacher, weights, scale=config.loss.score_scale, mask=mask) if teacher
               else torch.zeros_like(student_scores))
    nonzeros = ((doc_weights.detach() > 0).float() * sample.scale).sum(dim=-1)
    parts = loss_fn(student_scores, targets, doc_weights, step=step, mask=mask, column_scale=sample.scale,
                    nonzeros=nonzeros)
    return parts, float(nonzeros.mean())


def _select_docs(example: TrainingExample, group: int, seed: str) -> TrainingExample:
    """Positive plus ``group - 1`` negatives sampled (seeded) when there are more."""
    if len(example.docs) <= group:
        return example
    rng = random.Random(seed)
    chosen = [0, *sorted(rng.sample(range(1, len(example.docs)), group - 1))]
    return TrainingExample(example.query, [example.docs[i] for i in chosen],
                           {n: [s[i] for i in chosen] for n, s in example.scores.items()})


def _dev_name(spec: DevConfig) -> str:
    return spec.name or Path(spec.corpus).parent.name


def evaluate_dev_sets(config: TrainConfig, student: SparseStudent, tokenizer: PreTrainedTokenizerBase,
                      idf: TrainableIdf,
                      dev_sets: list[tuple[DevConfig, DevSet, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Evaluate the student on every dev set (see ``dev_eval.evaluate_student``); keyed by dev-set name."""
    from .dev_eval import evaluate_student

    results: dict[str, dict[str, float]] = {}
    model_idf: dict[str, float] | None = None
    for spec, dev, corpus_idf in dev_sets:
        table = corpus_idf
        if spec.idf == "model":
            table = model_idf = model_idf or idf.to_table(_vocabulary(tokenizer), set(tokenizer.all_special_ids))
        results[_dev_name(spec)] = evaluate_student(student, tokenizer, dev, table,
                                                    max_length=config.student.max_length, batch_size=spec.batch_size)
    return results


def save_model(directory: Path, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
               idf: dict[str, float], activation: str = "log1p") -> Path:
    """Write the HF fill-mask checkpoint (recording ``activation``), its tokenizer and ``idf.json``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    setattr(model.config, ACTIVATION_KEY, activation)
    model.save_pretrained(str(directory))
    tokenizer.save_pretrained(str(directory))
    save_idf(idf, directory / "idf.json")
    return directory


def _vocabulary(tokenizer: PreTrainedTokenizerBase) -> list[str]:
    return tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))


def _optimizer(config: TrainConfig, model: PreTrainedModel,
               idf: TrainableIdf) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    import torch

    decay: list[torch.nn.Parameter] = []
    no_decay: list[torch.nn.Parameter] = []
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            (no_decay if parameter.ndim < 2 or "LayerNorm" in name or "bias" in name else decay).append(parameter)
    groups = [
        {"params": decay, "lr": config.optimizer.lr, "weight_decay": config.optimizer.weight_decay},
        {"params": no_decay, "lr": config.optimizer.lr, "weight_decay": 0.0},
    ]
    if config.idf.trainable:
        groups.append({"params": [idf.parameter], "lr": config.idf.lr, "weight_decay": 0.0})
    optimizer = torch.optim.AdamW(groups)
    warmup = int(config.optimizer.warmup_ratio * config.steps)

    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        return max(0.0, (config.steps - step) / max(1, config.steps - warmup))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
