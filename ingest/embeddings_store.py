"""A resumable on-disk store of dense document embeddings (one folder per corpus and dense model).

Layout: ``model.json`` (the dense model's fingerprint) and ``chunk-NNNNN.npz`` files, each
holding ``ids`` and unit-length ``vectors`` (float32). A chunk is written to a temporary name
and renamed, so an interrupted run leaves only whole chunks, and the next run embeds only the
ids no chunk holds. Documents added later are appended as new chunks.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sparsedoc.encoder.errors import ConfigError, InputError

from .pipeline import batched

Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class Embeddings:
    """Document ids and their embedding rows, in the same order."""

    ids: list[str]
    vectors: np.ndarray

    def rows(self, ids: Iterable[str]) -> np.ndarray:
        """The rows of ``ids`` (each must be present)."""
        position = {doc_id: i for i, doc_id in enumerate(self.ids)}
        return self.vectors[[position[doc_id] for doc_id in ids]]


class EmbeddingsStore:
    """Dense embeddings of one corpus by one model, cached in ``root``."""

    def __init__(self, root: str | Path, fingerprint: str) -> None:
        self.root = Path(root)
        self.fingerprint = fingerprint

    def claim(self, *, overwrite: bool = False) -> None:
        """Record the model's fingerprint, or check it against the stored one.

        Raises:
            ConfigError: the folder holds embeddings of another model (and not ``overwrite``).
        """
        marker = self.root / "model.json"
        if overwrite and self.root.exists():
            shutil.rmtree(self.root)
        if marker.is_file():
            stored = json.loads(marker.read_text())["fingerprint"]
            if stored != self.fingerprint:
                raise ConfigError(f"{self.root} holds embeddings of another dense model; delete it or use --overwrite")
            return
        self.root.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps({"fingerprint": self.fingerprint}))

    def load(self) -> Embeddings:
        """Every stored embedding (chunks in order).

        Raises:
            InputError: a chunk is unreadable or repeats an id.
        """
        ids: list[str] = []
        blocks: list[np.ndarray] = []
        for chunk in sorted(self.root.glob("chunk-*.npz")):
            try:
                with np.load(chunk, allow_pickle=False) as data:
                    ids.extend(str(i) for i in data["ids"])
                    blocks.append(data["vectors"].astype(np.float32, copy=False))
            except (OSError, ValueError, KeyError) as err:
                raise InputError(f"unreadable embeddings chunk ({err}); delete it to re-embed", path=chunk) from err
        if len(set(ids)) != len(ids):
            raise InputError("an id appears in two chunks; delete the folder to re-embed", path=self.root)
        vectors = np.concatenate(blocks) if blocks else np.zeros((0, 0), np.float32)
        return Embeddings(ids, vectors)

    def ensure(self, ids: Sequence[str], texts: Iterable[str], embed: Embed, *, chunk_size: int = 2048,
               show_progress: bool = False) -> Embeddings:
        """Embed the ``(ids, texts)`` not stored yet, chunk by chunk; return everything stored.

        ``texts`` holds one text per id, in order; it is read once, as a stream, and only if an id is missing.
        """
        from tqdm.auto import tqdm

        if chunk_size < 1:
            raise ConfigError(f"chunk_size must be >= 1, got {chunk_size}")
        self.claim()
        done = set(self.load().ids)
        todo = sum(1 for doc_id in ids if doc_id not in done)
        start = len(list(self.root.glob("chunk-*.npz")))
        pending = ((doc_id, text) for doc_id, text in zip(ids, texts, strict=True) if doc_id not in done)
        with tqdm(total=len(ids), initial=len(ids) - todo, disable=not show_progress, unit="doc",
                  desc="dense embeddings") as bar:
            for number, part in enumerate(batched(pending if todo else (), chunk_size), start=start):
                vectors = embed([text for _, text in part])
                path = self.root / f"chunk-{number:05d}.npz"
                partial = path.with_name(path.name + ".partial.npz")
                np.savez(partial, ids=np.array([doc_id for doc_id, _ in part]), vectors=vectors.astype(np.float32))
                partial.replace(path)
                bar.update(len(part))
        return self.load()
