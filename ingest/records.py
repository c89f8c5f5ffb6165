"""The records that readers yield: documents, queries and relevance judgements."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Document:
    """A corpus document. ``content`` is what gets encoded and indexed."""

    doc_id: str
    text: str
    title: str = ""

    @property
    def content(self) -> str:
        """Title and text joined; a title the text already starts with is not repeated."""
        title, text = self.title.strip(), self.text.strip()
        if not title or text.startswith(title):
            return text
        return f"{title} {text}" if text else title


@dataclass(frozen=True)
class Query:
    """A query with its id."""

    query_id: str
    text: str
