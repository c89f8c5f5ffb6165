"""Build an index from encoded vectors, smoothed or not, and record in the index how it was built.

The path every command takes (``index``, ``eval``, ``quickstart``, ``adapt``):
unsmoothed vectors file -> (dense embeddings -> neighbours -> smoothed vectors file) -> backend.
The backend stores a build record (``Backend.record_build``), so a later run that would add
documents built another way is refused, and ``sparsedoc search`` can say how the index was built.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparsedoc.encoder.errors import ConfigError
from sparsedoc.plugin.base import Backend

from .embeddings_store import Embeddings, EmbeddingsStore
from .neighbours import corpus_neighbours
from .packed_vectors import PackedVectors
from .smoothed_vectors import SmoothingReport, smooth_vectors_file
from .smoothing import Smoothing

if TYPE_CHECKING:
    from sparsedoc.encoder.dense_encoder import DenseEncoder

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


def corpus_embeddings(ids: Sequence[str], texts: Iterable[str], dense_model: Path, folder: Path, *,
                      show_progress: bool = False) -> tuple[Embeddings, DenseEncoder]:
    """The dense embeddings of a corpus by ``dense_model``, cached (resumably) in ``folder``, and the encoder.

    ``texts`` (one per id, in order) is consumed only if some id is not cached yet.
    """
    from sparsedoc.encoder.dense_encoder import DenseEncoder

    encoder = DenseEncoder(dense_model)
    store = EmbeddingsStore(folder, encoder.fingerprint)
    return store.ensure(ids, texts, encoder.encode, show_progress=show_progress), encoder


def smoothed_vectors(raw: Path, out: Path, plan: SmoothingPlan, *, show_progress: bool = False) -> SmoothingReport:
    """Embed the documents of ``raw`` (cached, resumable) and write their smoothed vectors into ``out``.

    The vectors of ``raw`` are held packed (``PackedVectors``); its texts are streamed from the file.
    """
    vectors = PackedVectors.read(raw)
    texts = (doc.text for doc in vectors.documents(range(len(vectors))))
    embeddings, encoder = corpus_embeddings(vectors.ids, texts, plan.dense_model, plan.embeddings_dir,
                                            show_progress=show_progress)
    return smooth_vectors_file(vectors, out, embeddings, plan.smoothing, dense_model=encoder.fingerprint,
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
        index = f"index {name}" if name else "the index"
        raise ConfigError(f"{index} was built with smoothing {_describe(stored)}, this run uses "
                          f"{_describe(record)}; use another index or --overwrite")
    if stored != record:
        backend.record_build(record)


def _comparable(record: dict[str, Any]) -> tuple[Any, Any]:
    return record.get("smoothing"), record.get("dense_model") if record.get("smoothing") else None


def _describe(record: dict[str, Any]) -> str:
    settings = record.get("smoothing")
    return Smoothing(**settings).describe() if settings else "none"
