"""The training configuration: YAML parsed into pydantic models, checked before any compute.

Unknown keys and impossible values are rejected with the offending key path. Relative paths are
resolved against the YAML file's folder. See ``recipes/cranfield.yaml`` for a complete example.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StudentConfig(_Strict):
    """The document encoder to train: any fill-mask checkpoint, or an encoder-only one (fresh MLM head)."""

    model_dir: Path
    max_length: int = Field(256, ge=8, le=8192)
    activation: Literal["log1p", "log1p_log1p"] | None = None
    """``None``: the one the checkpoint records (``encoder.loading.model_activation``), else ``log1p``."""


MODEL_FREE_KINDS = ("bm25", "label")
"""Teacher kinds that need no model directory (BM25 over the candidates; the data's own label)."""


class TeacherConfig(_Strict):
    """One teacher; ``weight`` is its share in the ensemble mean. ``bm25`` and ``label`` need no ``model_dir``."""

    name: str = Field(min_length=1)
    kind: Literal["dense", "sparse", "bm25", "label"]
    model_dir: Path | None = None
    weight: float = Field(1.0, gt=0)
    max_length: int = Field(256, ge=8, le=8192)
    batch_size: int = Field(32, ge=1)

    @model_validator(mode="after")
    def _check(self) -> TeacherConfig:
        if self.kind not in MODEL_FREE_KINDS and self.model_dir is None:
            raise ValueError(f"teacher {self.name!r} of kind {self.kind!r} needs model_dir")
        return self


class LossConfig(_Strict):
    """Ranking loss, score scale, FLOPS weight and warm-up, l0 gate and IDF awareness."""

    ranking: Literal["kl", "margin_mse", "info_nce"] = "kl"
    score_scale: float = Field(30.0, gt=0)
    temperature: float = Field(1.0, gt=0)
    flops_weight: float = Field(1e-4, ge=0)
    warmup_steps: int = Field(0, ge=0)
    l0_threshold: float | None = Field(None, ge=0)
    idf_aware: bool = True


class IdfConfig(_Strict):
    """The IDF table: a file, or computed from the training documents when ``path`` is null."""

    path: Path | None = None
    trainable: bool = False
    lr: float = Field(1e-3, gt=0)


class OptimizerConfig(_Strict):
    """AdamW with a linear schedule (warm-up ratio, then decay to 0)."""

    lr: float = Field(2e-5, gt=0, le=1.0)
    weight_decay: float = Field(0.01, ge=0)
    warmup_ratio: float = Field(0.0, ge=0, le=1)
    max_grad_norm: float = Field(1.0, gt=0)


class DevConfig(_Strict):
    """A BEIR-layout dev set scored exactly in memory every ``eval_every`` steps.

    Queries are weighted by the dev corpus's own IDF (``idf: corpus``, as at deployment on that
    corpus) or by the model's training IDF table (``idf: model``; use it with a trainable IDF).
    Several dev sets watch whether training on one collection erodes quality on another.
    """

    name: str | None = None
    idf: Literal["corpus", "model"] = "corpus"
    corpus: Path
    queries: Path
    qrels: Path
    max_queries: int | None = Field(None, ge=1)
    batch_size: int = Field(32, ge=1)


class TrainConfig(_Strict):
    """Everything one training run needs."""

    output_dir: Path
    train_file: Path
    student: StudentConfig
    teachers: list[TeacherConfig] = Field(default_factory=list)
    loss: LossConfig = LossConfig()
    idf: IdfConfig = IdfConfig()
    optimizer: OptimizerConfig = OptimizerConfig()
    dev: list[DevConfig] = Field(default_factory=list)
    seed: int = 42
    steps: int = Field(gt=0)
    batch_size: int = Field(8, ge=1)
    docs_per_query: int = Field(4, ge=2)
    vocab_sample: int | None = Field(2000, ge=0)
    eval_every: int = Field(0, ge=0)
    keep_best: str | None = None
    """A dev set's name: score the start and every evaluation on it and return the best model (maybe the start)."""
    log_every: int = Field(10, ge=1)
    checkpoint_every: int = Field(0, ge=0)
    resume: bool = True
    num_threads: int | None = Field(None, ge=1)
    cache_dir: Path | None = None

    @field_validator("dev", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [] if value is None else [value] if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        names = [t.name for t in self.teachers]
        if len(set(names)) != len(names):
            raise ValueError(f"teacher names must be unique, got {names}")
        dev_names = [d.name or Path(d.corpus).parent.name for d in self.dev]
        if self.keep_best is not None and self.keep_best not in dev_names:
            raise ValueError(f"keep_best names no dev set: {self.keep_best!r} not in {dev_names}")
        if self.keep_best is not None and not self.eval_every:
            raise ValueError("keep_best needs eval_every > 0 (checkpoints must be scored to be kept)")
        return self


def _resolve(data: object, base: Path, keys: set[str]) -> object:
    if isinstance(data, dict):
        return {
            k: (str(base / v) if k in keys and isinstance(v, str) and not Path(v).is_absolute()
                else _resolve(v, base, keys))
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [_resolve(v, base, keys) for v in data]
    return data


_PATH_KEYS = {"output_dir", "train_file", "model_dir", "path", "corpus", "queries", "qrels", "cache_dir"}


def parse_config(data: object, base_dir: str | Path = ".", source: str = "config") -> TrainConfig:
    """Validate a config mapping; relative paths resolve against ``base_dir``.

    Raises:
        ConfigError: listing every invalid or unknown key as ``a.b.c: message``.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return TrainConfig.model_validate(_resolve(data, Path(base_dir), _PATH_KEYS))
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in err.errors()
        )
        raise ConfigError(f"{source}: invalid training config: {problems}") from err


def load_config(path: str | Path, overrides: dict[str, object] | None = None) -> TrainConfig:
    """Read a YAML config file (plus optional top-level ``overrides``) into a ``TrainConfig``.

    Example:
        >>> load_config("encoder/training/recipes/cranfield.yaml").steps  # doctest: +SKIP
        600
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from err
    if isinstance(data, dict) and overrides:
        data = merge_settings(data, overrides)
    return parse_config(data, path.parent, str(path))


def merge_settings(base: dict, overrides: dict) -> dict:
    """Return ``base`` patched by ``overrides``: nested mappings merge key by key, anything else replaces."""
    merged = dict(base)
    for key, value in overrides.items():
        nested = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = merge_settings(merged[key], value) if nested else value
    return merged


def recipe_path(name: str) -> Path:
    """Path of a bundled recipe (``"adapt"``, ``"cranfield"``).

    Raises:
        ConfigError: no such recipe.
    """
    from importlib.resources import files

    path = Path(str(files("sparsedoc.encoder.training.recipes") / f"{name}.yaml"))
    if not path.is_file():
        raise ConfigError(f"no bundled recipe {name!r} ({path})")
    return path
