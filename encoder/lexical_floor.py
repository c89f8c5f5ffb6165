"""The lexical floor: every token of a document keeps at least a saturated term-frequency weight.

``w'_t = max(w_t, scale * tf_t * (k1 + 1) / (tf_t + k1))`` for each (non-special) token ``t`` that occurs
``tf_t`` times in the encoded window. With IDF-weighted queries the inference-free score is then never
below ``scale`` times a BM25-like match over the document's own word pieces (no length normalisation),
whatever the model learned to drop; the model still adds expansion terms and re-weights. It is a fix for
encoders that give weight 0 to documents' own rare terms (measured with ``training.dev_eval``).

The floor is applied after the network, by sparsedoc's document encoders (torch and onnxruntime alike)
and by the trainer; a model directory asks for it with a ``lexical_floor.json`` file
(``{"scale": 1.0, "k1": 0.9}``). OpenSearch's ML Commons ingest runs only the network, so the floor
is client-side: index documents encoded by sparsedoc (``sparsedoc index --model``), not through an
OpenSearch ingest pipeline, when the model has one.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import ConfigError, InputError

if TYPE_CHECKING:
    import torch

FILE_NAME = "lexical_floor.json"


@dataclass(frozen=True)
class LexicalFloor:
    """Floor weights ``scale * tf (k1 + 1) / (tf + k1)``: ``scale`` for a token seen once, below ``scale (k1 + 1)``.

    Example:
        >>> import numpy as np
        >>> floor = LexicalFloor(1.0).apply(np.zeros((1, 5)), np.array([[0, 3, 3, 4, 1]]), np.ones((1, 5)), {0, 1})
        >>> floor.round(3).tolist()  # token 3 twice, token 4 once; 0 and 1 are special
        [[0.0, 0.0, 0.0, 1.31, 1.0]]
    """

    scale: float = 1.0
    k1: float = 0.9

    def __post_init__(self) -> None:
        if not (self.scale > 0 and self.k1 >= 0):
            raise ConfigError(f"lexical floor needs scale > 0 and k1 >= 0, got {self.scale}, {self.k1}")

    def saturate(self, tf):  # noqa: ANN001, ANN201 - numpy array or torch tensor
        """The floor weight of a term frequency (array or tensor)."""
        return self.scale * tf * (self.k1 + 1.0) / (tf + self.k1)

    def apply(self, weights: np.ndarray, input_ids: np.ndarray, attention_mask: np.ndarray,
              special_ids: Collection[int]) -> np.ndarray:
        """Raise ``weights`` ``[batch, vocab]`` to the floor of each row's tokens (a new array)."""
        floored = weights.copy()
        special = np.asarray(sorted(special_ids), dtype=np.int64)
        for row, (ids, mask) in enumerate(zip(input_ids, attention_mask)):
            tokens = ids[(mask > 0) & ~np.isin(ids, special)]
            if tokens.size == 0:
                continue
            unique, counts = np.unique(tokens, return_counts=True)
            floored[row, unique] = np.maximum(floored[row, unique], self.saturate(counts.astype(np.float32)))
        return floored

    def apply_columns(self, weights: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                      columns: torch.Tensor | None, special_ids: Collection[int]) -> torch.Tensor:
        """Torch version on selected vocabulary ``columns`` (all when ``None``); differentiable in ``weights``."""
        import torch

        valid = (attention_mask > 0) & ~torch.isin(input_ids, torch.tensor(sorted(special_ids), dtype=input_ids.dtype))
        if columns is None:
            tf = torch.zeros_like(weights).scatter_add_(1, input_ids * valid, valid.to(weights.dtype))
        else:
            tf = ((input_ids.unsqueeze(-1) == columns.view(1, 1, -1)) & valid.unsqueeze(-1)).sum(dim=1).to(weights.dtype)
        return torch.maximum(weights, self.saturate(tf))

    def save(self, model_dir: str | Path) -> Path:
        """Write ``lexical_floor.json`` into a model directory."""
        path = Path(model_dir) / FILE_NAME
        path.write_text(json.dumps(asdict(self)) + "\n", encoding="utf-8")
        return path


def read_lexical_floor(model_dir: str | Path) -> LexicalFloor | None:
    """The floor a model directory asks for, or ``None`` when it has no ``lexical_floor.json``.

    Raises:
        InputError: the file is not a JSON object with numeric ``scale`` and optional ``k1``.
    """
    path = Path(model_dir) / FILE_NAME
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return LexicalFloor(float(data["scale"]), float(data.get("k1", 0.9)))
    except (ValueError, KeyError, TypeError) as err:
        raise InputError(f"expected {{\"scale\": number, \"k1\": number}} ({err})", path=path) from err
