"""Build an index from encoded vectors, smoothed or not, and record in the index how it was built.

The path every command takes (``index``, ``eval``, ``quickstart``, ``adapt``):
unsmoothed vectors file -> (dense embeddings -> neighbours -> smoothed vectors file) -> backend.
The backend stores a build record (``Backend.record_build``), so a later run that would add
documents built another way is refused, and ``sparsedoc search`` can say how the index was built.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sparsedoc.encoder.errors import ConfigError
from sparsedoc.plugin.base import Backend

from .embeddings_store import EmbeddingsStore
from .neighbours import corpus_neighbours
from .smoothed_vectors import SmoothingReport, smooth_vectors_file
from .smoothing import Smoothing
from .vectors_file import read_encoded

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmoothingPlan:
    """Smoothing settings, the dense model that finds neighbours, and where its embeddings are cached."""

    smoothing: Smoothing
    dense_model: Path
    embeddings_dir: Path

    def record(self) -> dict[str, Any]:
        """The part of an index's build record that describes the smoothing."""
        return {"smoothing": self.smoothing.to_dict(), "dense_model": self.dense_model.name}


def smoothed_vectors(raw: Path, out: Path, plan: SmoothingPlan, *, show_progress: bool = False) -> SmoothingReport:
    """Embed the documents of ``raw`` (cached, resumable) and write their smoothed vectors into ``out``."""
    from sparsedoc.encoder.dense_encoder import DenseEncoder

    encoder = DenseEncoder(plan.dense_model)
    store = EmbeddingsStore(plan.embeddings_dir, encoder.fingerprint)
    documents = list(read_encoded(raw))
    embeddings = store.ensure([d.doc_id for d in documents], [d.text for d in documents], encoder.encode,
                              show_progress=show_progress)
    return smooth_vectors_file(raw, out, embeddings, plan.smoothing, dense_model=encoder.fingerprint,
                               find=corpus_neighbours, show_progress=show_progress)


def build_record(plan: SmoothingPlan | None, **extra: Any) -> dict[str, Any]:
    """What an index records about its build: the smoothing (``None`` when off) plus ``extra``."""
    if plan is None or not plan.smoothing.enabled:
        return {"smoothing": None, **extra}
    return {**plan.record(), **extra}


def claim_index(backend: Backend, record: dict[str, Any], *, overwrite: bool = False, name: str = "") -> None:
    """Create the index (``overwrite`` empties it) and record ``record``, or check it against the stored one.

    Raises:
        ConfigError: the index holds documents built another way (other smoothing); names both.
    """
    backend.create_index(overwrite=overwrite)
    stored = backend.build_record()
    if stored and _comparable(stored) != _comparable(record) and backend.count() > 0:
        raise ConfigError(
            f"index {name or ''} was built with smoothing {_describe(stored)}, this run uses {_describe(record)}; "
            "use another index or --overwrite".replace("index  ", "index "))
    if stored != record:
        backend.record_build(record)


def _comparable(record: dict[str, Any]) -> tuple[Any, Any]:
    return record.get("smoothing"), record.get("dense_model") if record.get("smoothing") else None


def _describe(record: dict[str, Any]) -> str:
    settings = record.get("smoothing")
    return Smoothing(**settings).describe() if settings else "none"
