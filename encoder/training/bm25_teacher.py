"""BM25 as a lexical teacher: in-memory Okapi BM25 over the candidates being scored.

The heterogeneous ensemble min-max normalises every teacher per query, so BM25's raw scale does not
matter; what it adds is the exact-match signal dense and siamese sparse teachers underweight (a
student distilled without it learns to drop documents' own rare terms). Statistics (document
frequency, average length) come from the unique candidate documents of the call, which for
pseudo-queries over a corpus is the corpus itself.

Text analysis: lowercase alphanumeric words, English stop words removed, a light plural stemmer.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Sequence

from ..errors import ConfigError
from .pseudo_queries import STOP_WORDS

_WORD = re.compile(r"[a-z0-9]+")


def analyze(text: str) -> list[str]:
    """Lowercase words without stop words, plurals folded (``studies`` -> ``study``, ``wings`` -> ``wing``).

    Example:
        >>> analyze("The wings of studies")
        ['wing', 'study']
    """
    terms = []
    for word in _WORD.findall(text.lower()):
        if word in STOP_WORDS:
            continue
        if len(word) > 4 and word.endswith("ies"):
            word = word[:-3] + "y"
        elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
            word = word[:-1]
        terms.append(word)
    return terms


class Bm25Teacher:
    """Okapi BM25 (``k1``, ``b``) with corpus statistics from the scored candidates.

    Example:
        >>> t = Bm25Teacher("bm25")
        >>> a, b = t.score(["wing lift"], [["lift of wings", "boundary layers"]])[0]
        >>> a > b == 0.0
        True
    """

    kind = "bm25"

    def __init__(self, name: str, *, k1: float = 0.9, b: float = 0.4) -> None:
        if not (k1 >= 0 and 0 <= b <= 1):
            raise ConfigError(f"BM25 needs k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}")
        self.name, self.k1, self.b = name, float(k1), float(b)

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(f"bm25:{self.k1}:{self.b}:plural-v1".encode()).hexdigest()

    def score(self, queries: Sequence[str], docs: Sequence[Sequence[str]]) -> list[list[float]]:
        """Score each query against its own candidate list."""
        unique = list(dict.fromkeys(d for group in docs for d in group))
        counts = {d: Counter(analyze(d)) for d in unique}
        lengths = {d: sum(c.values()) for d, c in counts.items()}
        average = sum(lengths.values()) / max(1, len(unique))
        frequency: Counter[str] = Counter()
        for c in counts.values():
            frequency.update(c.keys())
        n = len(unique)
        idf = {t: math.log(1.0 + (n - df + 0.5) / (df + 0.5)) for t, df in frequency.items()}
        rows = []
        for query, group in zip(queries, docs, strict=True):
            terms = set(analyze(query))
            row = []
            for doc in group:
                tf, norm = counts[doc], self.k1 * (1 - self.b + self.b * lengths[doc] / max(average, 1e-9))
                row.append(sum((idf[t] * tf[t] * (self.k1 + 1) / (tf[t] + norm) for t in terms if tf[t]), 0.0))
            rows.append(row)
        return rows
