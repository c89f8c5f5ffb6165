"""The smoothing step of indexing: an encoded vectors file -> a smoothed vectors file (same format).

``smooth_vectors_file`` takes the unsmoothed vectors (``encode_to_file``'s output), finds each
document's dense neighbours among all of them and writes the smoothed vectors, which
``index_encoded`` then feeds to any backend. It is resumable and incremental: documents already
in the output keep their smoothed vector, new ones are smoothed against every document in the
input (old and new). A document added later does not change its neighbours' stored vectors
(rebuild the output to refresh those). Memory: the input's vectors stay packed
(``PackedVectors``, about 8 bytes per posting) and texts are copied from the input file, read
again in order.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sparsedoc.encoder.errors import ConfigError
from sparsedoc.plugin.base import EncodedDocument

from .embeddings_store import Embeddings
from .neighbours import Neighbours, corpus_neighbours
from .packed_vectors import PackedVectors
from .pipeline import batched
from .smoothing import Smoothing, smooth_vector
from .vectors_file import append_encoded, read_encoded, repair_tail

logger = logging.getLogger(__name__)

FindNeighbours = Callable[..., Neighbours]


@dataclass(frozen=True)
class SmoothingReport:
    """What one smoothing run did: documents smoothed now, kept from before, and postings before/after."""

    smoothed: int
    kept: int
    postings_before: int
    postings_after: int

    @property
    def growth(self) -> float:
        """Postings after / before, over the documents smoothed in this run (1.0 if none)."""
        return self.postings_after / self.postings_before if self.postings_before else 1.0


def settings_path(out: Path) -> Path:
    """The sidecar that records how ``out`` was smoothed (settings + dense model)."""
    return out.with_name(out.name + ".smoothing.json")


def smooth_vectors_file(vectors: PackedVectors, out: Path, embeddings: Embeddings,
                        smoothing: Smoothing, *, dense_model: str = "", find: FindNeighbours = corpus_neighbours,
                        show_progress: bool = False) -> SmoothingReport:
    """Write the smoothed vectors of the documents of ``vectors`` into ``out``, skipping ids ``out`` already holds.

    Args:
        vectors: the unsmoothed vectors (``PackedVectors.read`` of an encoded vectors file); each
            document's text is copied from that file, read again in order.
        out: smoothed vectors (JSONL, ``sparsedoc encode`` format); a sidecar ``<out>.smoothing.json``
            records the settings.
        embeddings: a dense embedding for every id of ``vectors``.
        smoothing: the settings (must be enabled).
        dense_model: the dense model's fingerprint, recorded in the sidecar.
        find: neighbour search (``exact_neighbours``, ``hnsw_neighbours`` or ``corpus_neighbours``).

    Raises:
        ConfigError: ``out`` was smoothed with other settings, or an id has no embedding.
    """
    from tqdm.auto import tqdm

    if not smoothing.enabled:
        raise ConfigError("smoothing is off (neighbours 0 or weight 0): index the unsmoothed vectors instead")
    record = {"smoothing": smoothing.to_dict(), "dense_model": dense_model}
    sidecar = settings_path(out)
    if sidecar.is_file() and json.loads(sidecar.read_text()) != record:
        raise ConfigError(f"{out} was smoothed with other settings ({sidecar}); delete both or use --overwrite")
    repair_tail(out)
    done = {d.doc_id for d in read_encoded(out)} if out.is_file() else set()
    todo = [i for i, doc_id in enumerate(vectors.ids) if doc_id not in done]
    if not todo:
        return SmoothingReport(0, len(done), 0, 0)
    missing = set(vectors.ids) - set(embeddings.ids)
    if missing:
        raise ConfigError(f"{len(missing)} documents have no dense embedding (e.g. {sorted(missing)[0]!r})")
    corpus = embeddings.rows(vectors.ids)
    rows = np.asarray(todo)
    found = find(corpus[rows], corpus, smoothing.neighbours, exclude=rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    sidecar.write_text(json.dumps(record, indent=2))
    before, after = int(vectors.sizes()[rows].sum()), 0
    with tqdm(total=len(todo), disable=not show_progress, unit="doc", desc="smoothing") as bar:
        for batch in batched(_smoothed(vectors, todo, found, smoothing), 1024):
            append_encoded(out, batch)
            after += sum(len(doc.vector) for doc in batch)
            bar.update(len(batch))
    report = SmoothingReport(len(todo), len(done), before, after)
    logger.info("smoothed %d documents (%s): postings x%.2f", report.smoothed, smoothing.describe(), report.growth)
    return report


def _smoothed(vectors: PackedVectors, rows: list[int], found: Neighbours,
              smoothing: Smoothing) -> Iterator[EncodedDocument]:
    """The documents on ``rows`` (ascending) with their smoothed vectors; ``found`` holds their neighbours."""
    for doc, neighbour_rows, sims in zip(vectors.documents(rows), found.rows, found.similarities, strict=True):
        valid = neighbour_rows >= 0
        neighbours = [vectors.vector(r) for r in neighbour_rows[valid].tolist()]
        yield EncodedDocument(doc.doc_id, doc.text, smooth_vector(doc.vector, neighbours, sims[valid].tolist(),
                                                                  smoothing))
