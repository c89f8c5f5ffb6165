"""Integer impacts for Lucene: the one place float document weights become term frequencies.

Lucene stores a token's weight in a document as its term frequency, a positive
``int``. ``quantize_weight`` maps a float weight ``w`` to ``round(w * scale)`` (half
up) and ``dequantize`` maps it back, so every stored weight is within
``0.5 / scale`` of the original.

Choosing the scale trades resolution against range:

* resolution: weights closer than ``1 / scale`` may collapse to one integer, and a
  weight below ``0.5 / scale`` rounds to 0 and is dropped (the document no longer
  matches that token). With the default 100 the step is 0.01, finer than the
  differences that matter for SPLADE-style weights (typically 0.1 to 3).
* range: Lucene limits the sum of one field's term frequencies in one document to
  ``2**31 - 1``, so a single weight must stay below ``MAX_IMPACT / scale``
  (21,474,836 at scale 100) and a document's weights must sum to less than that.
  Larger scales also inflate the index a little (frequencies are varint-coded).

Pyserini's impact tooling instead hard-codes ``weight / 5 * 256`` (scale 51.2);
here the scale is an explicit argument of the backend and of these functions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = ["DEFAULT_IMPACT_SCALE", "MAX_IMPACT", "dequantize", "quantize_vector", "quantize_weight"]

DEFAULT_IMPACT_SCALE = 100.0
"""Integer steps per unit of weight: 0.01 resolution, weights up to about 2.1e7."""

MAX_IMPACT = 2**31 - 1
"""The largest term frequency Lucene accepts."""


def _check_scale(scale: float) -> None:
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"impact scale must be a positive finite number, got {scale!r}")


def quantize_weight(weight: float, scale: float = DEFAULT_IMPACT_SCALE) -> int:
    """Return the integer impact ``floor(weight * scale + 0.5)`` of a document weight.

    Weights ``<= 0`` and weights that round to 0 (below ``0.5 / scale``) give 0,
    which callers treat as "drop this token": no positive weight is inflated to 1,
    so the error bound ``|dequantize(q) - weight| <= 0.5 / scale`` always holds.
    The product is computed in binary floating point, so a weight such as 0.285,
    stored as 0.28499999..., rounds down.

    Args:
        weight: the float document weight.
        scale: integer steps per unit of weight (positive).

    Returns:
        The impact, ``0 <= impact <= MAX_IMPACT``.

    Raises:
        ValueError: ``weight`` is NaN or its impact exceeds ``MAX_IMPACT``, or ``scale`` is invalid.

    Example:
        >>> quantize_weight(1.234), quantize_weight(0.005), quantize_weight(0.0049), quantize_weight(-2.0)
        (123, 1, 0, 0)
    """
    _check_scale(scale)
    if math.isnan(weight):
        raise ValueError("cannot quantize a NaN weight")
    if weight <= 0:
        return 0
    shifted = weight * scale + 0.5
    if shifted >= MAX_IMPACT + 1:  # also catches +inf before math.floor would
        raise ValueError(
            f"weight {weight!r} at scale {scale!r} exceeds Lucene's largest term frequency {MAX_IMPACT}"
        )
    return math.floor(shifted)


def quantize_vector(weights: Mapping[str, float], scale: float = DEFAULT_IMPACT_SCALE) -> dict[str, int]:
    """Quantise every weight of a token -> weight mapping, dropping tokens whose impact is 0.

    The same rule as ``quantize_weight``, applied in one pass (indexing calls this per document).

    Example:
        >>> quantize_vector({"wing": 1.234, "the": 0.001, "lift": 0.5})
        {'wing': 123, 'lift': 50}
    """
    _check_scale(scale)
    impacts: dict[str, int] = {}
    limit = MAX_IMPACT + 1
    for token, weight in weights.items():
        if weight > 0:
            shifted = weight * scale + 0.5
            if shifted >= limit:
                raise ValueError(
                    f"weight {weight!r} of token {token!r} at scale {scale!r} exceeds "
                    f"Lucene's largest term frequency {MAX_IMPACT}"
                )
            if shifted >= 1:
                impacts[token] = math.floor(shifted)
        elif math.isnan(weight):
            raise ValueError(f"cannot quantize a NaN weight (token {token!r})")
    return impacts


def dequantize(impact: int, scale: float = DEFAULT_IMPACT_SCALE) -> float:
    """Return the weight an integer impact stands for, ``impact / scale``.

    Example:
        >>> dequantize(123)
        1.23
    """
    _check_scale(scale)
    return impact / scale
