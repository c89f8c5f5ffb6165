"""Deterministic synthetic corpora for latency benchmarks and tests: sparse vectors, texts and queries.

Everything derives from one seed, so two runs with the same ``SyntheticConfig`` produce the
same documents and queries, byte for byte.

* **Vocabulary**: the real bert-base-uncased WordPiece vocabulary (``vocab.txt``), minus
  special (``[CLS]``...), ``[unusedN]``, punctuation and non-ASCII tokens (which OpenSearch
  ``rank_features`` field paths and the English analyzer treat specially). bert's vocabulary
  lists words from ``the`` onwards roughly by corpus frequency, so the id order is used as
  the frequency rank (single characters go last).
* **Documents**: ``U(min_nonzeros, max_nonzeros)`` distinct tokens drawn from a
  Zipf-Mandelbrot distribution over that rank, ``p(r) ~ 1 / (r + offset) ** exponent``. With
  the defaults the most common tokens occur in 60-95% of documents, as in SPLADE-tiny's
  vectors of Cranfield (``measured`` 93%, ``engine`` 75%, ``theory`` 69%).
* **Weights**: ``Gamma(shape=1.2, scale=0.5)`` clipped to ``[0.01, 3]``: median 0.47, p90
  about 1.3, matching the quantiles of SPLADE-tiny's Cranfield weights (p10 0.08, median
  0.47, p90 1.44, max 2.6).
* **Texts** (for BM25): the document's whole-word tokens (no ``##`` pieces) in the top
  ``text_fraction`` by weight, each repeated ``1 + floor(weight)`` times, in a seeded
  shuffle. The remaining tokens play the part of SPLADE's expansion terms.
* **Queries**: ``U(min_query_tokens, max_query_tokens)`` distinct whole-word tokens drawn
  from the same Zipf distribution; sparse query = ``{token: idf}`` with the BM25-style IDF
  computed over the generated corpus (``sparsedoc.encoder.idf.idf_weight``); text = the
  tokens joined by spaces.

Example:
    >>> corpus = SyntheticCorpus(load_vocabulary(VOCAB_PATH), SyntheticConfig(num_documents=100))  # doctest: +SKIP
    >>> docs = list(corpus.documents()); queries = corpus.queries()  # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sparsedoc.encoder.assets import asset_dir
from sparsedoc.encoder.idf import idf_weight
from sparsedoc.encoder.sparse_vector import SparseVector
from sparsedoc.plugin.base import EncodedDocument

__all__ = ["VOCAB_PATH", "SyntheticConfig", "SyntheticCorpus", "SyntheticQuery", "load_vocabulary"]

VOCAB_PATH = asset_dir("all-MiniLM-L6-v2") / "vocab.txt"
_FIRST_WORD = "the"  # bert-base-uncased's frequency-ordered words start here
_KEEP = re.compile(r"^(##)?[a-z0-9]+$")


@dataclass(frozen=True)
class SyntheticConfig:
    """The knobs of a synthetic corpus; equal configs give identical corpora."""

    num_documents: int = 100_000
    num_queries: int = 500
    seed: int = 13
    zipf_exponent: float = 1.0
    zipf_offset: float = 10.0
    min_nonzeros: int = 100
    max_nonzeros: int = 200
    min_query_tokens: int = 5
    max_query_tokens: int = 10
    weight_shape: float = 1.2
    weight_scale: float = 0.5
    max_weight: float = 3.0
    text_fraction: float = 0.6

    def __post_init__(self) -> None:
        if self.num_documents < 1 or self.num_queries < 0:
            raise ValueError("num_documents must be >= 1 and num_queries >= 0")
        if not 1 <= self.min_nonzeros <= self.max_nonzeros:
            raise ValueError("need 1 <= min_nonzeros <= max_nonzeros")
        if not 1 <= self.min_query_tokens <= self.max_query_tokens:
            raise ValueError("need 1 <= min_query_tokens <= max_query_tokens")
        if not 0.0 < self.text_fraction <= 1.0:
            raise ValueError("text_fraction must be in (0, 1]")


@dataclass(frozen=True)
class SyntheticQuery:
    """A generated query: its text (for BM25) and its IDF-weighted sparse vector."""

    query_id: str
    text: str
    vector: SparseVector


def load_vocabulary(path: str | Path = VOCAB_PATH) -> list[str]:
    """Read ``vocab.txt`` and return the usable tokens, most frequent first.

    Raises:
        FileNotFoundError: no vocabulary at ``path``.
    """
    tokens = Path(path).read_text(encoding="utf-8").splitlines()
    try:
        start = tokens.index(_FIRST_WORD)
    except ValueError:
        start = 0
    ordered = tokens[start:] + tokens[:start]
    return [t for t in ordered if _KEEP.match(t)]  # single characters (before 'the') end up last


class SyntheticCorpus:
    """A seeded generator of documents (vector + text) and queries over a vocabulary.

    ``documents()`` can be iterated any number of times and always yields the same
    stream; ``queries()`` needs the corpus' document frequencies, computed by one pass
    over the documents the first time (or recorded while ``documents()`` is consumed).
    """

    def __init__(self, vocabulary: Sequence[str], config: SyntheticConfig | None = None) -> None:
        if len(vocabulary) < 1000:
            raise ValueError(f"vocabulary too small ({len(vocabulary)} tokens)")
        self.config = config or SyntheticConfig()
        self.vocabulary = list(vocabulary)
        ranks = np.arange(len(self.vocabulary), dtype=np.float64)
        weights = 1.0 / (ranks + self.config.zipf_offset) ** self.config.zipf_exponent
        self._cdf = np.cumsum(weights / weights.sum())
        self._whole_word = np.array([not t.startswith("##") for t in self.vocabulary])
        self._df: np.ndarray | None = None

    # ---- documents ------------------------------------------------------------------

    def documents(self) -> Iterator[EncodedDocument]:
        """Yield the ``num_documents`` documents, ids ``d0 .. d{n-1}``."""
        cfg = self.config
        rng = np.random.default_rng([cfg.seed, 1])
        df = np.zeros(len(self.vocabulary), dtype=np.int64)
        vocab = self.vocabulary
        for i in range(cfg.num_documents):
            nnz = int(rng.integers(cfg.min_nonzeros, cfg.max_nonzeros + 1))
            ids = self._distinct(rng, nnz)
            w = np.clip(rng.gamma(cfg.weight_shape, cfg.weight_scale, size=nnz), 0.01, cfg.max_weight)
            w = np.round(w, 4)
            df[ids] += 1
            order = np.argsort(-w, kind="stable")[: max(1, int(round(nnz * cfg.text_fraction)))]
            words: list[str] = []
            for j in order:
                if self._whole_word[ids[j]]:
                    words.extend([vocab[ids[j]]] * (1 + int(w[j])))
            perm = rng.permutation(len(words))
            text = " ".join(words[p] for p in perm)
            vector = SparseVector({vocab[t]: float(x) for t, x in zip(ids.tolist(), w.tolist(), strict=True)})
            yield EncodedDocument(f"d{i}", text, vector)
        self._df = df

    def _distinct(self, rng: np.random.Generator, n: int, whole_words: bool = False) -> np.ndarray:
        """Draw ``n`` distinct token ids from the Zipf distribution (in draw order)."""
        chosen: list[int] = []
        seen: set[int] = set()
        while len(chosen) < n:
            draws = np.searchsorted(self._cdf, rng.random(2 * n + 16), side="right")
            draws = np.minimum(draws, len(self.vocabulary) - 1)
            for t in draws.tolist():
                if t in seen or (whole_words and not self._whole_word[t]):
                    continue
                seen.add(t)
                chosen.append(t)
                if len(chosen) == n:
                    break
        return np.asarray(chosen, dtype=np.int64)

    # ---- statistics and queries -----------------------------------------------------

    def document_frequencies(self) -> np.ndarray:
        """Number of documents containing each vocabulary token (one pass if not yet known)."""
        if self._df is None:
            for _ in self.documents():
                pass
        assert self._df is not None
        return self._df

    def idf(self) -> dict[str, float]:
        """BM25-style IDF of every token that occurs in the corpus."""
        n = self.config.num_documents
        df = self.document_frequencies()
        return {self.vocabulary[t]: idf_weight(n, int(df[t])) for t in np.flatnonzero(df).tolist()}

    def queries(self) -> list[SyntheticQuery]:
        """Generate ``num_queries`` queries (ids ``q0 ..``), IDF-weighted over this corpus."""
        cfg = self.config
        rng = np.random.default_rng([cfg.seed, 2])
        df = self.document_frequencies()
        n = cfg.num_documents
        queries = []
        for i in range(cfg.num_queries):
            size = int(rng.integers(cfg.min_query_tokens, cfg.max_query_tokens + 1))
            ids = self._distinct(rng, size, whole_words=True).tolist()
            vector = SparseVector({
                self.vocabulary[t]: idf_weight(n, int(df[t])) for t in ids if df[t] > 0
            })
            queries.append(SyntheticQuery(f"q{i}", " ".join(self.vocabulary[t] for t in ids), vector))
        return queries
