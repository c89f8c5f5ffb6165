"""A working directory for one dataset + model: IDF table, encoded vectors and a manifest.

The manifest records which model and encoder settings produced the vectors, so a cached
vectors file is never silently reused with a different model. One run at a time uses a
workspace (``locked``).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sparsedoc.encoder.errors import ConfigError
from sparsedoc.encoder.idf import compute_idf, save_idf
from sparsedoc.encoder.loading import load_tokenizer, model_fingerprint
from sparsedoc.encoder.protocols import DocumentEncoder

from .pipeline import IngestReport, encode_to_file
from .readers import Document
from .smoothing import Smoothing
from .writer_lock import writer_lock


@dataclass(frozen=True)
class Workspace:
    """Files derived from one corpus and one document model."""

    root: Path

    @property
    def idf_path(self) -> Path:
        return self.root / "idf.json"

    @property
    def vectors_path(self) -> Path:
        return self.root / "vectors.jsonl"

    def smoothed_path(self, smoothing: Smoothing) -> Path:
        """Where the vectors smoothed with ``smoothing`` are kept (one file per setting)."""
        return self.root / f"smoothed-{smoothing.key()}.jsonl"

    def embeddings_dir(self, dense_model: Path) -> Path:
        """Where the dense embeddings of the corpus by ``dense_model`` are cached."""
        return self.root / f"dense-{dense_model.name}"

    def index_name(self, smoothing: Smoothing | None) -> str:
        """The index of this workspace's vectors: ``index``, or ``index-s<key>`` for smoothed ones."""
        return f"index-s{smoothing.key()}" if smoothing is not None and smoothing.enabled else "index"

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    @property
    def encoding_path(self) -> Path:
        """Counts of empty, truncated and windowed documents, summed over (resumed) encoding runs."""
        return self.root / "encoding.json"

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the workspace's writer lock (``<root>.lock``, next to the folder ``clear`` removes).

        Raises:
            BusyError: another process holds it; the message names its pid and command.
        """
        with writer_lock(self.root):
            yield

    def clear(self) -> None:
        """Remove everything in the workspace (IDF table, vectors, manifest, index)."""
        if self.root.exists():
            shutil.rmtree(self.root)

    def claim(self, model_dir: Path, settings: dict[str, Any]) -> None:
        """Record (or check) which model and settings this workspace's vectors come from.

        Raises:
            ConfigError: the workspace was built with another model or settings.
        """
        manifest = {"model": str(model_dir), "fingerprint": model_fingerprint(model_dir), "settings": settings}
        self.root.mkdir(parents=True, exist_ok=True)
        if self.manifest_path.is_file():
            previous = json.loads(self.manifest_path.read_text())
            if (previous["fingerprint"], previous["settings"]) != (manifest["fingerprint"], settings):
                raise ConfigError(
                    f"{self.root} holds vectors from {previous['model']} with {previous['settings']}; "
                    "use another --workdir or --overwrite"
                )
            return
        self.manifest_path.write_text(json.dumps(manifest, indent=2))

    def query_idf_path(self, documents: Callable[[], Iterable[Document]], model_dir: Path,
                       idf_path: Path | None = None) -> Path:
        """The IDF table queries use: ``idf_path``, else the model's own ``idf.json``, else the corpus'
        (``idf.json`` here, computed with the model's tokenizer the first time)."""
        if idf_path is not None:
            return idf_path
        if (model_dir / "idf.json").is_file():
            return model_dir / "idf.json"
        if not self.idf_path.is_file():
            tokenizer = load_tokenizer(model_dir)
            save_idf(compute_idf((d.content for d in documents()), tokenizer), self.idf_path)
        return self.idf_path

    def ensure_vectors(
        self,
        documents: Callable[[], Iterable[Document]],
        encoder: Callable[[], DocumentEncoder],
        *,
        total: int | None = None,
        show_progress: bool = False,
    ) -> IngestReport:
        """Encode the corpus into ``vectors.jsonl`` (resuming); the model loads only if needed.

        The returned report's ``empty``, ``truncated`` and ``windowed`` cover every run that built the file.
        """
        from .vectors_file import repair

        counts = json.loads(self.encoding_path.read_text()) if self.encoding_path.is_file() else {}
        with writer_lock(self.vectors_path):
            held = repair(self.vectors_path)
            if total is not None and len(held) >= total and any(held.values()):
                return IngestReport(skipped=total, empty=counts.get("empty", 0), truncated=counts.get("truncated", 0),
                                    windowed=counts.get("windowed", 0))
            report = encode_to_file(documents(), encoder(), self.vectors_path, total=total,
                                    show_progress=show_progress)
        report.empty += counts.get("empty", 0)
        report.truncated += counts.get("truncated", 0)
        report.windowed += counts.get("windowed", 0)
        self.encoding_path.write_text(json.dumps({"empty": report.empty, "truncated": report.truncated,
                                                  "windowed": report.windowed}))
        return report
