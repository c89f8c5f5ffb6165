"""The sparse vectors of an encoded vectors file, packed into flat arrays (no text), by row and by id.

Dense-neighbour smoothing needs the vector of any document at any time (its neighbours'). As
Python objects (a ``SparseVector`` dict per document, a string and a float object per posting)
that is over a hundred bytes per posting. ``PackedVectors`` holds them in compressed sparse row
form instead: per document an offset (int64), per posting a row into one table of the distinct
tokens (int32) and a weight, about 8 bytes per posting. It is built in one streaming pass of
``read_encoded`` (the same validation), and keeps no text: ``documents`` reads the file again.

Weights are stored as float32 while every weight of the file is exactly a float32 (what the
encoders write); the first that is not (an average computed in float64, say) widens the store to
float64. Either way ``vector`` returns exactly the weights ``read_encoded`` gives.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Mapping
from functools import cached_property
from pathlib import Path

import numpy as np

from sparsedoc.encoder.errors import InputError
from sparsedoc.encoder.sparse_vector import SparseVector
from sparsedoc.plugin.base import EncodedDocument

from .vectors_file import read_encoded


class PackedVectors(Mapping[str, SparseVector]):
    """A read-only store of the vectors of ``path``: rows in file order, ``ids[row]``, ``vector(row)``.

    As a mapping it is ``doc_id -> SparseVector`` in file order.

    Example:
        >>> import tempfile
        >>> from sparsedoc.ingest.vectors_file import append_encoded
        >>> path = Path(tempfile.mkdtemp()) / "vectors.jsonl"
        >>> _ = append_encoded(path, [EncodedDocument("d1", "wing lift", SparseVector({"wing": 1.5}))])
        >>> packed = PackedVectors.read(path)
        >>> packed.ids, packed.vector(0).to_dict(), packed["d1"]["wing"]
        (['d1'], {'wing': 1.5}, 1.5)
    """

    def __init__(self, path: Path, ids: list[str], tokens: list[str], offsets: np.ndarray, token_rows: np.ndarray,
                 weights: np.ndarray) -> None:
        if len(offsets) != len(ids) + 1 or len(token_rows) != len(weights) or offsets[-1] != len(weights):
            raise ValueError(f"inconsistent packed vectors: {len(ids)} ids, {len(offsets)} offsets, "
                             f"{len(token_rows)} token rows, {len(weights)} weights")
        self.path = path
        self.ids = ids
        self._tokens = tokens
        self._offsets = offsets
        self._token_rows = token_rows
        self._weights = weights

    @classmethod
    def read(cls, path: str | Path) -> PackedVectors:
        """Pack the vectors of an encoded vectors file in one streaming pass.

        Raises:
            InputError: as ``read_encoded`` (a malformed line, a repeated id), naming file, line and field.
        """
        path = Path(path)
        ids: list[str] = []
        table: dict[str, int] = {}
        offsets, token_rows, weights = array("q", [0]), array("i"), array("f")
        for doc in read_encoded(path):
            ids.append(doc.doc_id)
            vector = doc.vector.to_dict()  # a dict iterates faster than the Mapping
            token_rows.extend([table.setdefault(token, len(table)) for token in vector])
            weights = _append_weights(weights, list(vector.values()))
            offsets.append(len(token_rows))
        return cls(path, ids, list(table), _frozen(offsets, np.int64), _frozen(token_rows, np.int32),
                   _frozen(weights, np.float32 if weights.typecode == "f" else np.float64))

    @property
    def postings(self) -> int:
        """The number of (token, weight) pairs of all vectors."""
        return len(self._weights)

    @property
    def nbytes(self) -> int:
        """Bytes of the packed arrays (not counting the id and token strings)."""
        return self._offsets.nbytes + self._token_rows.nbytes + self._weights.nbytes

    def sizes(self) -> np.ndarray:
        """The number of tokens of each row's vector."""
        return np.diff(self._offsets)

    def vector(self, row: int) -> SparseVector:
        """The vector of the document on ``row`` (0-based, in file order; tokens in the file's order)."""
        if not 0 <= row < len(self.ids):
            raise IndexError(f"row {row} out of range for {len(self.ids)} documents")
        start, end = int(self._offsets[row]), int(self._offsets[row + 1])
        tokens = [self._tokens[t] for t in self._token_rows[start:end].tolist()]
        return SparseVector(dict(zip(tokens, self._weights[start:end].tolist(), strict=True)))

    def documents(self, rows: Iterable[int]) -> Iterator[EncodedDocument]:
        """The whole documents (with text) on ``rows``, ascending, read again from ``path`` in order.

        Raises:
            InputError: the file changed since it was packed (another id on a row, or fewer lines).
        """
        wanted = iter(rows)
        target = next(wanted, None)
        if target is None:
            return
        for row, doc in enumerate(read_encoded(self.path)):
            if row < target:
                continue
            if row > target:
                raise ValueError(f"rows must be ascending and >= 0, got {target} before row {row}")
            if doc.doc_id != self.ids[row]:
                raise InputError(f"changed since it was read: document {row + 1} is {doc.doc_id!r}, "
                                 f"was {self.ids[row]!r}", path=self.path)
            yield doc
            target = next(wanted, None)
            if target is None:
                return
        raise InputError(f"changed since it was read: it has fewer than {target + 1} documents", path=self.path)

    @cached_property
    def _position(self) -> dict[str, int]:
        return {doc_id: row for row, doc_id in enumerate(self.ids)}

    def __getitem__(self, doc_id: str) -> SparseVector:
        return self.vector(self._position[doc_id])

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._position

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids)

    def __len__(self) -> int:
        return len(self.ids)


def _append_weights(weights: array[float], values: list[float]) -> array[float]:
    """Append ``values`` to float32 ``weights``, or to a float64 copy once a value is not exactly a float32."""
    if weights.typecode == "f":
        narrow = array("f", values)
        if narrow.tolist() == values:
            weights.extend(narrow)
            return weights
        weights = array("d", weights)
    weights.extend(values)
    return weights


def _frozen(values: array[int] | array[float], dtype: type[np.generic]) -> np.ndarray:
    """A read-only numpy view of ``values`` (no copy)."""
    view = np.frombuffer(values, dtype=dtype)
    view.flags.writeable = False
    return view
