"""Field access and id checks for JSONL records, with errors that name the file, line and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sparsedoc.encoder.errors import InputError
from sparsedoc.encoder.jsonl import read_jsonl

__all__ = ["UniqueIds", "read_jsonl", "string_field"]


def string_field(
    record: dict[str, Any], name: str, *, path: Path, line: int, required: bool = True
) -> str:
    """Return ``record[name]`` as a string (numbers become strings, e.g. ids).

    Raises:
        InputError: the field is missing (when required) or not a string/number.
    """
    if name not in record or record[name] is None:
        if required:
            raise InputError("missing", path=path, line=line, field=name)
        return ""
    value = record[name]
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InputError(f"expected a string, got {type(value).__name__}", path=path, line=line, field=name)
    return str(value)


class UniqueIds:
    """Track ids seen in one file and reject a duplicate, naming both lines."""

    def __init__(self, path: Path, field: str) -> None:
        self._path = path
        self._field = field
        self._first_line: dict[str, int] = {}

    def check(self, value: str, line: int) -> None:
        """Record ``value`` at ``line``; raise ``InputError`` if it was seen before."""
        if not value.strip():
            raise InputError("empty id", path=self._path, line=line, field=self._field)
        first = self._first_line.setdefault(value, line)
        if first != line:
            raise InputError(
                f"duplicate id {value!r} (first on line {first})", path=self._path, line=line, field=self._field
            )
