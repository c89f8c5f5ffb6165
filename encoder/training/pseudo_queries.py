"""Pseudo-queries for an unlabeled corpus, built so that the query is not trivially in its positive.

Some collections (Cranfield) repeat the title at the start of the text, so "title -> own document"
is solved before any training (see docs/training-notes.md). Each document's *body* is its text with
a leading copy of the title removed, and one of these strategies makes a query:

- ``sentence``: a random sentence of the body (cropped to ``max_words`` words) becomes the query and
  is cut out of the positive, so the model must match it through the rest of the document.
- ``span``: a random window of ``min_words..max_words`` words is the query and is cut out of the positive.
- ``keywords``: 3-6 distinct content words (no stop words, 4+ letters) sampled from the body, in random
  order; the positive is the whole body (a keyword query with lexical overlap, like a user query).

The title itself is never the query. Everything is deterministic from ``seed``: each document draws
from its own ``random.Random(f"{seed}:{doc_id}:{n}")``, so adding documents does not change others'.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from ..errors import ConfigError

logger = logging.getLogger(__name__)

STRATEGIES = ("sentence", "span", "keywords")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
STOP_WORDS = frozenset(
    "a about above after again all also an and any are as at be because been before being below between both "
    "but by can could did do does doing down during each few for from further had has have having here how "
    "however i if in into is it its itself may more most much must no nor not of off on once only or other "
    "our out over own same shall should so some such than that the their them then there these they this "
    "those through thus to too under until up upon very was we were what when where which while who whom "
    "why will with would".split()
)


class DocumentLike(Protocol):
    """Anything with ``doc_id``, ``text`` and ``title`` (e.g. ``sparsedoc.encoder.beir.Document``)."""

    @property
    def doc_id(self) -> str: ...

    @property
    def text(self) -> str: ...

    @property
    def title(self) -> str: ...


@dataclass(frozen=True)
class PseudoQuery:
    """A generated query, its source document and the positive text to train on."""

    query_id: str
    query: str
    doc_id: str
    positive: str
    strategy: str


def document_body(text: str, title: str) -> str:
    """Return ``text`` without a leading copy of ``title`` (whitespace-insensitive)."""
    text, title = text.strip(), title.strip()
    if title and text.startswith(title):
        return text[len(title):].strip()
    return text


def generate_pseudo_queries(
    documents: Iterable[DocumentLike],
    *,
    seed: int = 0,
    per_document: int = 1,
    strategies: Mapping[str, float] | None = None,
    min_words: int = 4,
    max_words: int = 16,
) -> list[PseudoQuery]:
    """Make ``per_document`` pseudo-queries for every document with a non-empty body.

    Args:
        documents: the corpus (title and text; a text that starts with its title is de-duplicated).
        seed: makes the output reproducible.
        per_document: queries per document.
        strategies: strategy -> probability weight (default sentence 0.5, span 0.25, keywords 0.25).
        min_words / max_words: length bounds of sentence and span queries.

    Returns:
        One ``PseudoQuery`` per (document, n); ids are ``"{doc_id}-pq{n}"``.

    Raises:
        ConfigError: unknown strategy, non-positive weights or impossible length bounds.

    Example:
        >>> from types import SimpleNamespace as D
        >>> doc = D(doc_id="1", title="wings .", text="wings . lift rises with angle . drag rises too .")
        >>> [q.strategy for q in generate_pseudo_queries([doc], seed=1, strategies={"span": 1})]
        ['span']
    """
    weights = dict(strategies) if strategies else {"sentence": 0.5, "span": 0.25, "keywords": 0.25}
    unknown = set(weights) - set(STRATEGIES)
    if unknown or not weights or any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise ConfigError(f"strategies must map some of {STRATEGIES} to non-negative weights (sum > 0), got {weights}")
    if not 1 <= min_words <= max_words:
        raise ConfigError(f"need 1 <= min_words <= max_words, got {min_words}, {max_words}")
    if per_document < 1:
        raise ConfigError(f"per_document must be >= 1, got {per_document}")
    names = sorted(weights)
    queries: list[PseudoQuery] = []
    skipped = 0
    for document in documents:
        body = document_body(document.text, document.title)
        words = body.split()
        if len(words) < min_words:
            skipped += 1
            continue
        for n in range(per_document):
            rng = random.Random(f"{seed}:{document.doc_id}:{n}")
            strategy = rng.choices(names, weights=[weights[s] for s in names])[0]
            made = _make(strategy, body, rng, min_words, max_words)
            if made is None:
                strategy, made = "span", _span(body, rng, min_words, max_words)
            query, positive = made
            queries.append(PseudoQuery(f"{document.doc_id}-pq{n}", query, str(document.doc_id), positive, strategy))
    if skipped:
        logger.info("skipped %d documents with fewer than %d words", skipped, min_words)
    return queries


def _make(strategy: str, body: str, rng: random.Random, min_words: int, max_words: int) -> tuple[str, str] | None:
    if strategy == "sentence":
        return _sentence(body, rng, min_words, max_words)
    if strategy == "keywords":
        return _keywords(body, rng)
    return _span(body, rng, min_words, max_words)


def _sentence(body: str, rng: random.Random, min_words: int, max_words: int) -> tuple[str, str] | None:
    sentences = [s for s in _SENTENCE_END.split(body) if s.strip()]
    candidates = [i for i, s in enumerate(sentences) if len(s.split()) >= min_words]
    if len(sentences) < 2 or not candidates:
        return None
    chosen = rng.choice(candidates)
    words = sentences[chosen].split()
    if len(words) > max_words:
        start = rng.randrange(len(words) - max_words + 1)
        words = words[start : start + max_words]
    positive = " ".join(s for i, s in enumerate(sentences) if i != chosen)
    return " ".join(w for w in words if w not in ".,;:"), positive


def _span(body: str, rng: random.Random, min_words: int, max_words: int) -> tuple[str, str]:
    words = body.split()
    length = rng.randint(min_words, min(max_words, max(min_words, len(words) // 2)))
    length = min(length, len(words))
    start = rng.randrange(len(words) - length + 1)
    query = " ".join(w for w in words[start : start + length] if w not in ".,;:")
    positive = " ".join(words[:start] + words[start + length :])
    return query, positive or body


def _keywords(body: str, rng: random.Random) -> tuple[str, str] | None:
    content = sorted({w for w in re.findall(r"[a-z]+", body.lower()) if len(w) >= 4 and w not in STOP_WORDS})
    if len(content) < 3:
        return None
    picked = rng.sample(content, min(len(content), rng.randint(3, 6)))
    return " ".join(picked), body
