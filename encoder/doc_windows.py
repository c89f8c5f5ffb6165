"""Documents longer than the model's window: truncate them, or encode overlapping windows.

With ``"windows"`` a long document's content tokens are cut into windows of
``max_length - special tokens`` tokens that start ``stride`` tokens apart (the last one
aligned to the end of the document), each window gets the model's special tokens, and the
document vector is the element-wise maximum of the window vectors: the same max SPLADE
pooling takes over positions within one window, taken over all windows (``log1p`` and ReLU
are monotone, so the order of max and activation does not matter). Documents that fit in
one window are encoded identically in both modes. A document keeps at most ``max_windows``
windows (the first ones; it is then counted as truncated), and only the part of its text
those windows cover is tokenised; encoders run the windows in batches and max-pool them
into one running vector, so a huge document costs no more than ``max_windows`` windows.

Reference: Nguyen, MacAvaney and Yates, "Adapting Learned Sparse Retrieval for Long
Documents" (SIGIR 2023) study such segment aggregation (max pooling among others) for SPLADE.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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


DEFAULT_MAX_WINDOWS = 64
"""Windows encoded per document at most (64 windows of 510 tokens: about 33k tokens, 150 kB of
English). Without a cap one 2 MB document (about 450k tokens, 880 windows) took 151 s."""

PREFIX_CHARS_PER_TOKEN = 8
"""Characters of a long text tokenised per token needed (English BERT tokens average 4.5)."""


def check_long_documents(mode: str, stride: int | None, max_windows: int = DEFAULT_MAX_WINDOWS) -> str:
    """Return ``mode`` if valid, else raise ``ConfigError`` listing the choices (``stride`` and
    ``max_windows`` are checked too)."""
    if mode not in LONG_DOCUMENT_MODES:
        raise ConfigError(f"long_documents must be one of {LONG_DOCUMENT_MODES}, got {mode!r}")
    if stride is not None and stride < 1:
        raise ConfigError(f"window_stride must be >= 1 token, got {stride}")
    if max_windows < 1:
        raise ConfigError(f"max_windows must be >= 1, got {max_windows}")
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
class WindowedDocument:
    """A long document's content tokens (no more than its windows cover) and where its windows start."""

    owner: int
    tokens: list[int]
    starts: list[int]
    head: list[int]
    tail: list[int]
    size: int

    def rows(self) -> Iterator[list[int]]:
        """The model rows of the windows, special tokens added, built one at a time."""
        for start in self.starts:
            yield [*self.head, *self.tokens[start : start + self.size], *self.tail]


@dataclass(frozen=True)
class DocumentRows:
    """Token id rows of the documents that fit one window (whole or cut), and the windowed ones.

    ``truncated`` counts documents cut to one window, and windowed documents cut to their
    first ``max_windows`` windows (those are also counted in ``capped``).
    """

    rows: list[list[int]]
    owners: list[int]
    windows: list[WindowedDocument]
    truncated: int
    capped: int = 0

    @property
    def windowed(self) -> int:
        """Documents encoded as several windows."""
        return len(self.windows)


def document_rows(
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    max_length: int,
    *,
    long_documents: str = DEFAULT_LONG_DOCUMENTS,
    window_stride: int | None = None,
    max_windows: int = DEFAULT_MAX_WINDOWS,
) -> DocumentRows:
    """Tokenise ``texts`` with special tokens into model rows of at most ``max_length`` ids.

    A document longer than ``max_length`` is either cut (keeping the closing special token)
    and counted in ``truncated``, or split into windows (``window_stride`` content tokens
    apart; default a whole window), at most ``max_windows`` of them: a longer document
    keeps its first ``max_windows`` windows and is counted in ``truncated`` and ``capped``.
    Only as much of a long text is tokenised as the kept tokens need (see :func:`token_prefixes`).
    """
    encoded = token_prefixes(tokenizer, texts, max_length, add_special_tokens=True)
    long = [i for i, ids in enumerate(encoded) if len(ids) > max_length]
    windowed: dict[int, WindowedDocument] = {}
    capped = 0
    if long and long_documents == "windows":
        head, tail = special_affixes(tokenizer)
        size = max_length - len(head) - len(tail)
        if size < 1:
            raise ConfigError(f"max_length {max_length} leaves no room for content tokens in a window")
        stride = min(window_stride or size, size)
        kept = size + (max_windows - 1) * stride  # content tokens the first max_windows windows cover
        plain = token_prefixes(tokenizer, [texts[i] for i in long], kept, add_special_tokens=False)
        for i, tokens in zip(long, plain, strict=True):
            capped += len(tokens) > kept
            tokens = tokens[:kept]
            windowed[i] = WindowedDocument(i, tokens, window_starts(len(tokens), size, stride), head, tail, size)
    rows: list[list[int]] = []
    owners: list[int] = []
    for i, ids in enumerate(encoded):
        if i not in windowed:
            rows.append(ids if len(ids) <= max_length else ids[: max_length - 1] + ids[-1:])
            owners.append(i)
    return DocumentRows(rows, owners, list(windowed.values()), len(long) - len(windowed) + capped, capped)


def token_prefixes(
    tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], count: int, *, add_special_tokens: bool
) -> list[list[int]]:
    """Token ids of each text: all of them, or, for a text with more than ``count``, at least its first ``count``.

    A long text is tokenised from a prefix of ``PREFIX_CHARS_PER_TOKEN * count`` characters
    (doubled until it gives more than ``count`` tokens), cut before a whitespace so no word
    is split: its tokens are the first tokens of the whole text (special tokens still close
    the row). A 2 MB document is thus never tokenised whole for the window or two kept of it.
    """
    result: list[list[int]] = [[] for _ in texts]
    todo = list(range(len(texts)))
    budget = PREFIX_CHARS_PER_TOKEN * max(count, 1)
    while todo:
        cut = {i: _prefix(texts[i], budget) for i in todo}
        encoded = tokenizer([cut[i] for i in todo], add_special_tokens=add_special_tokens, truncation=False,
                            verbose=False)["input_ids"]
        again = []
        for i, ids in zip(todo, encoded, strict=True):
            if len(ids) > count or len(cut[i]) == len(texts[i]):
                result[i] = ids
            else:
                again.append(i)
        todo, budget = again, budget * 2
    return result


def _prefix(text: str, budget: int) -> str:
    """``text`` if it has at most ``budget`` characters, else its longest prefix of at most
    ``budget`` characters that ends before a whitespace (``text`` itself if there is none)."""
    if len(text) <= budget:
        return text
    cut = max(text.rfind(space, 0, budget + 1) for space in " \n\t\r")
    return text[:cut] if cut > 0 else text


def special_affixes(tokenizer: PreTrainedTokenizerBase) -> tuple[list[int], list[int]]:
    """The special token ids the tokenizer puts before and after one sequence (``[CLS]``, ``[SEP]``)."""
    plain = tokenizer("window", add_special_tokens=False)["input_ids"]
    full = tokenizer("window", add_special_tokens=True)["input_ids"]
    for start in range(len(full) - len(plain) + 1):
        if full[start : start + len(plain)] == plain:
            return full[:start], full[start + len(plain) :]
    raise ConfigError("cannot locate the text between the tokenizer's special tokens; use long_documents='truncate'")
