"""Integer impacts: hand-computed values, rounding, dropping and range."""

from __future__ import annotations

import math
import random

import pytest

from sparsedoc.plugin.lucene.quantization import (
    DEFAULT_IMPACT_SCALE,
    MAX_IMPACT,
    dequantize,
    quantize_vector,
    quantize_weight,
)


@pytest.mark.parametrize(
    ("weight", "scale", "impact"),
    [
        (1.234, 100, 123),  # 123.4 -> 123
        (1.236, 100, 124),  # 123.6 -> 124
        (0.125, 100, 13),  # 12.5 exactly: half rounds up
        (0.375, 100, 38),  # 37.5 exactly
        (2.5, 1, 3),
        (0.5, 1, 1),  # the smallest weight that survives at scale 1
        (0.499, 1, 0),  # rounds to 0: dropped, not inflated to 1
        (0.004, 100, 0),
        (3.0, 51.2, 154),  # Pyserini's 256/5 scale: 153.6 -> 154
        (0.0, 100, 0),
        (-2.0, 100, 0),
        (-math.inf, 100, 0),
    ],
)
def test_quantize_weight_hand_computed(weight: float, scale: float, impact: int) -> None:
    assert quantize_weight(weight, scale) == impact


def test_default_scale_is_100() -> None:
    assert DEFAULT_IMPACT_SCALE == 100
    assert quantize_weight(1.0) == 100


def test_dequantize_hand_computed() -> None:
    assert dequantize(123) == pytest.approx(1.23)
    assert dequantize(13, 8) == 1.625
    assert dequantize(0) == 0.0


def test_round_trip_error_is_at_most_half_a_step() -> None:
    rng = random.Random(0)
    for scale in (1.0, 51.2, 100.0, 1000.0):
        for _ in range(2000):
            weight = rng.uniform(0.0, 10.0)
            impact = quantize_weight(weight, scale)
            assert abs(dequantize(impact, scale) - weight) <= 0.5 / scale + 1e-12


@pytest.mark.parametrize("bad", [math.nan])
def test_nan_weight_is_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="NaN"):
        quantize_weight(bad)


def test_overflow_is_refused() -> None:
    assert quantize_weight((MAX_IMPACT - 1) / 100, 100) <= MAX_IMPACT
    with pytest.raises(ValueError, match="largest term frequency"):
        quantize_weight(3e7, 100)
    with pytest.raises(ValueError, match="largest term frequency"):
        quantize_weight(math.inf)


@pytest.mark.parametrize("scale", [0.0, -1.0, math.nan, math.inf])
def test_bad_scale_is_refused(scale: float) -> None:
    with pytest.raises(ValueError, match="scale"):
        quantize_weight(1.0, scale)
    with pytest.raises(ValueError, match="scale"):
        dequantize(1, scale)


def test_quantize_vector_matches_quantize_weight_and_drops_zeros() -> None:
    weights = {"wing": 1.234, "the": 0.001, "lift": 0.125, "##ing": 2.0, ".": -1.0}
    assert quantize_vector(weights) == {"wing": 123, "lift": 13, "##ing": 200}
    rng = random.Random(1)
    many = {f"t{i}": rng.uniform(-1, 4) for i in range(500)}
    expected = {t: quantize_weight(w, 51.2) for t, w in many.items() if quantize_weight(w, 51.2)}
    assert quantize_vector(many, 51.2) == expected


def test_quantize_vector_refuses_nan_and_overflow() -> None:
    with pytest.raises(ValueError, match="NaN"):
        quantize_vector({"a": math.nan})
    with pytest.raises(ValueError, match="'big'"):
        quantize_vector({"a": 1.0, "big": 1e9})
