"""Streaming JSONL reading, field access and id checks, with errors naming file, line and field.

Shared by every package.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import InputError


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each non-blank line of a JSONL file.

    Raises:
        InputError: the file is missing, a line is not valid UTF-8 or not a JSON object.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path=path)
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise InputError(f"invalid UTF-8 at byte {err.start}", path=path, line=number) from err
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise InputError(f"malformed JSON: {err.msg} (column {err.colno})", path=path, line=number) from err
            if not isinstance(record, dict):
                raise InputError(f"expected a JSON object, got {type(record).__name__}", path=path, line=number)
            yield number, record


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
