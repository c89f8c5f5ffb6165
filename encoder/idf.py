"""IDF tables: compute them from a corpus, and read/write ``idf.json`` (token -> weight).

The formula is BM25's: ``idf(t) = ln(1 + (N - df_t + 0.5) / (df_t + 0.5))`` over the
tokenizer's tokens, with ``N`` documents and ``df_t`` documents containing token ``t``.
OpenSearch's own ``idf.json`` uses the same formula and file format.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ConfigError, InputError, ModelLoadError

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


def idf_weight(num_documents: int, document_frequency: int) -> float:
    """Return ``ln(1 + (N - df + 0.5) / (df + 0.5))``.

    Example:
        >>> round(idf_weight(10, 1), 4)
        2.0794
    """
    n, df = num_documents, document_frequency
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


def compute_idf(
    texts: Iterable[str], tokenizer: PreTrainedTokenizerBase, *, batch_size: int = 512
) -> dict[str, float]:
    """Stream a corpus once and return the IDF of every token that occurs in it.

    Tokens that never occur are absent (queries weight them 0); special tokens are never
    counted. Empty documents count towards ``N``.
    """
    special = set(tokenizer.all_special_ids)
    document_frequency: Counter[int] = Counter()
    num_documents = 0
    iterator = iter(texts)
    while batch := list(islice(iterator, batch_size)):
        num_documents += len(batch)
        for ids in tokenizer(batch, add_special_tokens=False, verbose=False)["input_ids"]:
            document_frequency.update(set(ids) - special)
    tokens = tokenizer.convert_ids_to_tokens(list(document_frequency))
    return {
        token: idf_weight(num_documents, df)
        for token, df in zip(tokens, document_frequency.values(), strict=True)
    }


def save_idf(idf: Mapping[str, float], path: str | Path) -> Path:
    """Write an ``idf.json`` (sorted keys, UTF-8) and return its path.

    Raises:
        ConfigError: ``idf`` has no tokens (every query would be empty); nothing is written.
    """
    path = Path(path)
    if not idf:
        raise ConfigError(f"IDF table for {path} has no tokens (an empty corpus?); not writing it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(sorted(idf.items())), ensure_ascii=False, indent=0), encoding="utf-8")
    return path


def load_idf(path: str | Path) -> dict[str, float]:
    """Read and validate an ``idf.json``: an object of token -> finite, non-negative number.

    Raises:
        ModelLoadError: the file is missing.
        InputError: the JSON is malformed, a value is invalid (names line and token), or
            there is no token (every query would be empty).
    """
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"IDF table not found: {path}")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as err:
        raise InputError(f"not valid UTF-8 ({err.reason} at byte {err.start})", path=path) from err
    except json.JSONDecodeError as err:
        raise InputError(f"malformed JSON: {err.msg} (column {err.colno})", path=path, line=err.lineno) from err
    if not isinstance(data, dict):
        raise InputError(f"expected a JSON object of token -> weight, got {type(data).__name__}", path=path)
    if not data:
        raise InputError("no tokens (built from an empty corpus?): every query would be empty", path=path)
    for token, weight in data.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise InputError(f"weight must be a number, got {weight!r}", path=path, field=token)
        if not math.isfinite(weight) or weight < 0:
            raise InputError(f"weight must be finite and >= 0, got {weight!r}", path=path, field=token)
    return {token: float(weight) for token, weight in data.items()}
