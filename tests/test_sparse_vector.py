"""SparseVector and pruning rules on hand-made vectors."""

from __future__ import annotations

import math

import pytest

from sparsedoc.encoder.errors import ConfigError
from sparsedoc.encoder.pruning import Pruning
from sparsedoc.encoder.sparse_vector import SparseVector

VECTOR = SparseVector({"a": 4.0, "b": 2.0, "c": 1.0, "d": 1.0})


def test_drops_non_positive_and_non_finite_weights() -> None:
    vector = SparseVector({"a": 1.0, "b": 0.0, "c": -1.0, "d": math.nan, "e": math.inf})
    assert vector.to_dict() == {"a": 1.0}


def test_dot_product_and_top_k() -> None:
    assert VECTOR.dot({"a": 0.5, "c": 2.0, "z": 9.0}) == 4.0
    assert VECTOR.top_k(3).to_dict() == {"a": 4.0, "b": 2.0, "c": 1.0}  # tie c/d broken by token


@pytest.mark.parametrize(
    ("rule", "kept"),
    [
        (Pruning("none"), {"a", "b", "c", "d"}),
        (Pruning("top_k", 2), {"a", "b"}),
        (Pruning("max_ratio", 0.5), {"a", "b"}),       # >= 2.0
        (Pruning("abs_value", 1.5), {"a", "b"}),
        (Pruning("alpha_mass", 0.75), {"a", "b"}),     # 6 of 8 reached after b
        (Pruning("alpha_mass", 0.8), {"a", "b", "c"}),
    ],
)
def test_prune_types(rule: Pruning, kept: set[str]) -> None:
    assert set(rule.apply(VECTOR)) == kept


@pytest.mark.parametrize(("prune_type", "ratio"), [("top_k", 0), ("top_k", 1.5), ("max_ratio", 2.0), ("nope", 1)])
def test_invalid_pruning_is_rejected(prune_type: str, ratio: float) -> None:
    with pytest.raises(ConfigError):
        Pruning(prune_type, ratio)
