"""The exception hierarchy shared by every sparsedoc package."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


class SparsedocError(Exception):
    """Base class of every error sparsedoc raises on purpose."""


class ConfigError(SparsedocError, ValueError):
    """An argument, option or configuration value is invalid."""


class InputError(SparsedocError, ValueError):
    """Bad input data, located by file, line and field.

    Example:
        >>> str(InputError("bad JSON", path="c.jsonl", line=3))
        'c.jsonl:3: bad JSON'
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.field = field
        where = ":".join(str(p) for p in (self.path, line) if p is not None)
        what = f"field '{field}': {message}" if field else message
        super().__init__(f"{where}: {what}" if where else what)


class MissingExtraError(SparsedocError, ImportError):
    """An optional dependency is not installed; ``extra`` names the pip extra that installs it.

    Example:
        >>> str(MissingExtraError("OpenSearch", "opensearchpy", "opensearch"))
        "OpenSearch needs opensearchpy from the 'opensearch' extra: pip install 'sparsedoc[opensearch]'"
    """

    def __init__(self, purpose: str, module: str, extra: str) -> None:
        self.extra = extra
        super().__init__(f"{purpose} needs {module} from the '{extra}' extra: pip install 'sparsedoc[{extra}]'",
                         name=module)


class ModelLoadError(SparsedocError):
    """A model, tokenizer or IDF table could not be loaded (missing or corrupt files)."""


class BusyError(SparsedocError):
    """Another process is writing the same files (a vectors cache, an index, a workspace)."""


class ExportValidationError(SparsedocError):
    """An exported model disagrees with its reference beyond the stated tolerance."""


class BackendError(SparsedocError):
    """A search engine is unreachable, misconfigured or failed a request."""


class PartialWriteError(BackendError):
    """A write failed after ``written`` documents were stored; running it again resumes (they are skipped).

    Example:
        >>> str(PartialWriteError("bulk write to docs: cannot reach OpenSearch", 1500)).split("; ")[:2]
        ['bulk write to docs: cannot reach OpenSearch', '1500 documents were written before the failure']
    """

    def __init__(self, reason: str, written: int) -> None:
        self.reason = reason
        self.written = written
        super().__init__(f"{reason}; {written} documents were written before the failure; "
                         "rerun the same command to resume (ids already indexed are skipped)")


class InterruptedRun(KeyboardInterrupt):
    """Ctrl-C stopped a resumable step; the message says what was written and how to resume."""


class LocalNodeError(BackendError):
    """A local OpenSearch node could not be installed, started or stopped."""


@dataclass(frozen=True)
class IndexFailure:
    """One document the engine refused, with the engine's reason."""

    doc_id: str
    reason: str


class IndexingError(BackendError):
    """Some documents could not be indexed; ``failures`` names each of them."""

    def __init__(self, message: str, failures: Sequence[IndexFailure]) -> None:
        self.failures = list(failures)
        shown = ", ".join(f.doc_id for f in self.failures[:5])
        more = f" (+{len(self.failures) - 5} more)" if len(self.failures) > 5 else ""
        super().__init__(f"{message}: {len(self.failures)} failed: {shown}{more}")
