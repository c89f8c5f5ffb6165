"""An embedded SEISMIC index next to the Lucene index (PyPI ``pyseismic-lsr``, pip extra ``seismic``).

SEISMIC indexes are built in one pass over all vectors, not updated in place. So the
folder keeps the vectors it was given (``seismic-vectors.jsonl``, appended by each
``add``) and the built index (``seismic.index.seismic`` plus ``seismic.json`` recording how
many vectors and which settings it was built from). A search rebuilds the index first
when vectors were added since, or the settings changed; building is logged, and takes
about a minute per 100k documents on two cores.

Scores are dot products of the float query weights and the stored document weights
(SEISMIC keeps them as float16), not Lucene's quantised impacts.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from sparsedoc.encoder.errors import BackendError
from sparsedoc.encoder.extras import import_extra
from sparsedoc.encoder.sparse_vector import SparseVector

from ..approximate import Seismic
from ..base import EncodedDocument

__all__ = ["SeismicSidecar", "import_seismic"]

logger = logging.getLogger(__name__)

VECTORS_FILE = "seismic-vectors.jsonl"
INDEX_STEM = "seismic"
STATE_FILE = "seismic.json"


def import_seismic() -> Any:
    """The ``seismic`` module, or a ``MissingExtraError`` (an ``ImportError``) naming its pip extra."""
    return import_extra("seismic", "SEISMIC search")


class SeismicSidecar:
    """The SEISMIC index of the vectors written to one index folder.

    Args:
        folder: the (Lucene) index folder that also holds the SEISMIC files.
        settings: build and query settings.

    Raises:
        MissingExtraError: ``pyseismic-lsr`` is not installed (extra ``seismic``).
    """

    def __init__(self, folder: Path, settings: Seismic) -> None:
        self._seismic = import_seismic()
        self.folder, self.settings = folder, settings
        self._index: Any = None
        self._lock = threading.Lock()
        self._string = self._seismic.get_seismic_string()

    @property
    def vectors_path(self) -> Path:
        return self.folder / VECTORS_FILE

    def add(self, documents: Sequence[EncodedDocument]) -> None:
        """Record the vectors of documents just written (the index is rebuilt at the next search)."""
        if not documents:
            return
        with self.vectors_path.open("a", encoding="utf-8") as handle:
            for doc in documents:
                handle.write(json.dumps({"_id": doc.doc_id, "vector": doc.vector.to_dict()}) + "\n")
        self._index = None

    def search(self, query: SparseVector, n: int, documents: int) -> list[tuple[str, float]]:
        """The (approximately) best ``n`` ``(doc_id, score)`` pairs, score descending.

        Raises:
            BackendError: the Lucene index holds ``documents`` > 0 but they were written
                without SEISMIC vectors.
        """
        if documents > 0 and not self.vectors_path.is_file():
            raise BackendError(f"Lucene index {self.folder} has no SEISMIC vectors: index its documents with "
                               "approximate=Seismic(...) (or 'sparsedoc index --approximate seismic')")
        index = self._ready()
        if index is None or not query:
            return []
        tokens = self._seismic_tokens(query)
        values = _float32([query[t] for t in query])
        found = index.search("q", tokens, values, k=n, query_cut=self.settings.query_cut,
                             heap_factor=self.settings.heap_factor)
        return [(str(doc_id), float(score)) for _, score, doc_id in found]

    def _seismic_tokens(self, query: SparseVector) -> Any:
        return np.array(list(query), dtype=self._string)

    # ---- building -------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        count = sum(1 for _ in self.vectors_path.open("rb")) if self.vectors_path.is_file() else 0
        build = {k: v for k, v in asdict(self.settings).items() if k not in ("query_cut", "heap_factor")}
        return {"vectors": count, "build": build}

    def _ready(self) -> Any:
        with self._lock:
            if self._index is not None:
                return self._index
            state, state_file = self._state(), self.folder / STATE_FILE
            index_file = self.folder / f"{INDEX_STEM}.index.seismic"
            if state["vectors"] == 0:
                return None
            try:
                if (state_file.is_file() and index_file.is_file()
                        and json.loads(state_file.read_text()) == state):
                    self._index = self._seismic.SeismicIndex.load(str(index_file))
                else:
                    self._index = self._build(state)
                    self._index.save(str(self.folder / INDEX_STEM))
                    state_file.write_text(json.dumps(state, indent=1))
            except (OSError, ValueError, RuntimeError) as exc:
                raise BackendError(f"SEISMIC index in {self.folder}: {exc}") from exc
            return self._index

    def _build(self, state: dict[str, Any]) -> Any:
        seismic, s = self._seismic, self.settings
        start = time.perf_counter()
        dataset = seismic.SeismicDataset()
        with self.vectors_path.open(encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                vector = record["vector"]
                if vector:
                    dataset.add_document(record["_id"], np.array(list(vector), dtype=self._string),
                                         _float32(list(vector.values())))
        index = seismic.SeismicIndex.build_from_dataset(
            dataset, n_postings=s.n_postings, centroid_fraction=s.centroid_fraction,
            summary_energy=s.summary_energy, num_threads=s.threads)
        logger.info("built the SEISMIC index of %d vectors in %s in %.0f s", state["vectors"], self.folder,
                    time.perf_counter() - start)
        return index


def _float32(values: list[float]) -> Any:
    return np.asarray(values, dtype=np.float32)
