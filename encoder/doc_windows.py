"""Documents longer than the model's window: truncate them, or encode overlapping windows.

With ``"windows"`` a long document's content tokens are cut into windows of
``max_length - special tokens`` tokens that start ``stride`` tokens apart (the last one
aligned to the end of the document), each window gets the model's special tokens, and the
document vector is the element-wise maximum of the window vectors: the same max SPLADE
pooling takes over positions within one window, taken over all windows (``log1p`` and ReLU
are monotone, so the order of max and activation does not matter). Documents that fit in
one window are encoded identically in both modes.

Reference: Nguyen, MacAvaney and Yates, "Adapting Learned Sparse Retrieval for Long
Documents" (SIGIR 2023) study such segment aggregation (max pooling among others) for SPLADE.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import ConfigError

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

LONG_DOCUMENT_MODES = ("truncate", "windows")
DEFAULT_LONG_DOCUMENTS = "truncate"
"""Default mode. Measured with SPLADE-tiny (``benchmarks/long_documents.py``, README "Long
documents"), windows lowered nDCG@10 on SciFact's train queries (0.6748 -> 0.6733 at the best
stride) and on Cranfield and CISI, so truncation stays the default."""


def check_long_documents(mode: str, stride: int | None) -> str:
    """Return ``mode`` if valid, else raise ``ConfigError`` listing the choices (and check ``stride``)."""
    if mode not in LONG_DOCUMENT_MODES:
        raise ConfigError(f"long_documents must be one of {LONG_DOCUMENT_MODES}, got {mode!r}")
    if stride is not None and stride < 1:
        raise ConfigError(f"window_stride must be >= 1 token, got {stride}")
    return mode


def window_starts(length: int, size: int, stride: int) -> list[int]:
    """Start offsets of windows of ``size`` tokens over ``length`` tokens, ``stride`` apart.

    The last window ends at the last token, so every token is covered and no window is short.

    Example:
        >>> window_starts(600, 510, 255), window_starts(1000, 510, 255), window_starts(300, 510, 255)
        ([0, 90], [0, 255, 490], [0])
    """
    if length <= size:
        return [0]
    return [*range(0, length - size, stride), length - size]


@dataclass(frozen=True)
class DocumentRows:
    """Token id rows to run (one per window) and the document each row belongs to."""

    rows: list[list[int]]
    owners: list[int]
    truncated: int
    windowed: int


def document_rows(
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    max_length: int,
    *,
    long_documents: str = DEFAULT_LONG_DOCUMENTS,
    window_stride: int | None = None,
) -> DocumentRows:
    """Tokenise ``texts`` with special tokens into model rows of at most ``max_length`` ids.

    A document longer than ``max_length`` is either cut (keeping the closing special token)
    and counted in ``truncated``, or split into windows (``window_stride`` content tokens
    apart; default a whole window) and counted in ``windowed``.
    """
    encoded = tokenizer(list(texts), add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
    rows: list[list[int]] = []
    owners: list[int] = []
    long = [i for i, ids in enumerate(encoded) if len(ids) > max_length]
    content: dict[int, list[int]] = {}
    if long and long_documents == "windows":
        plain = tokenizer([texts[i] for i in long], add_special_tokens=False, truncation=False, verbose=False)
        content = dict(zip(long, plain["input_ids"]))
    if content:
        head, tail = special_affixes(tokenizer)
        size = max_length - len(head) - len(tail)
        if size < 1:
            raise ConfigError(f"max_length {max_length} leaves no room for content tokens in a window")
        stride = min(window_stride or size, size)
    for i, ids in enumerate(encoded):
        if i in content:
            tokens = content[i]
            for start in window_starts(len(tokens), size, stride):
                rows.append(head + tokens[start : start + size] + tail)
                owners.append(i)
        else:
            rows.append(ids if len(ids) <= max_length else ids[: max_length - 1] + ids[-1:])
            owners.append(i)
    windowed = len(content)
    return DocumentRows(rows, owners, len(long) - windowed, windowed)


def special_affixes(tokenizer: PreTrainedTokenizerBase) -> tuple[list[int], list[int]]:
    """The special token ids the tokenizer puts before and after one sequence (``[CLS]``, ``[SEP]``)."""
    plain = tokenizer("window", add_special_tokens=False)["input_ids"]
    full = tokenizer("window", add_special_tokens=True)["input_ids"]
    for start in range(len(full) - len(plain) + 1):
        if full[start : start + len(plain)] == plain:
            return full[:start], full[start + len(plain) :]
    raise ConfigError("cannot locate the text between the tokenizer's special tokens; use long_documents='truncate'")
