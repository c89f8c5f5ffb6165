"""The fusion arithmetic (``sparsedoc.plugin.fusion``) on hand-computed rankings."""

from __future__ import annotations

import pytest

from sparsedoc.encoder.errors import ConfigError
from sparsedoc.plugin.fusion import (
    SMOOTHED_SPARSE_WEIGHT,
    UNSMOOTHED_SPARSE_WEIGHT,
    Fusion,
    default_fusion,
    fuse,
)


def test_min_max_weighted_mean_a_missing_list_counts_zero() -> None:
    bm25 = [("a", 10.0), ("b", 6.0), ("c", 2.0)]  # normalised: 1, 0.5, 0 -> 0.001
    sparse = [("b", 4.0), ("d", 3.0), ("a", 2.0)]  # normalised: 1, 0.5, 0 -> 0.001
    fused = dict(fuse([bm25, sparse], Fusion(sparse_weight=0.75)))
    assert fused == pytest.approx({
        "b": 0.25 * 0.5 + 0.75 * 1.0,
        "a": 0.25 * 1.0 + 0.75 * 0.001,
        "d": 0.75 * 0.5,  # BM25 did not find it: 0 there
    })
    assert len(fused) == 3  # as many as the longest list: "c" (0.001) is cut


def test_min_max_edge_cases_and_order() -> None:
    assert fuse([[("x", 5.0)], []], Fusion(sparse_weight=0.25)) == [("x", 0.75)]  # a single score normalises to 1
    tied = [[("b", 2.0), ("a", 2.0)], [("b", 1.0), ("a", 1.0)]]
    assert fuse(tied, Fusion(sparse_weight=0.5)) == [("a", 1.0), ("b", 1.0)]  # ties by id
    assert fuse([[], []], Fusion(sparse_weight=0.5)) == []


def test_rrf_sums_reciprocal_ranks() -> None:
    fused = dict(fuse([[("a", 9.0), ("b", 1.0)], [("b", 3.0), ("c", 2.0)]], Fusion("rrf", rank_constant=60)))
    assert fused == pytest.approx({"b": 1 / 62 + 1 / 61, "a": 1 / 61})


@pytest.mark.parametrize("kwargs", [{"method": "sum"}, {"sparse_weight": 1.5}, {"window": 0}, {"rank_constant": 0}])
def test_bad_settings_are_config_errors(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        Fusion(**kwargs)


def test_window_grows_to_k() -> None:
    assert Fusion(window=50).window_for(10) == 50 and Fusion(window=50).window_for(200) == 200


def test_default_weight_follows_the_smoothing_and_a_given_weight_wins() -> None:
    assert (SMOOTHED_SPARSE_WEIGHT, UNSMOOTHED_SPARSE_WEIGHT) == (0.5, 0.4)
    assert default_fusion(True) == Fusion(sparse_weight=0.5) and default_fusion(False) == Fusion(sparse_weight=0.4)
    assert default_fusion(False, Fusion(window=30)) == Fusion(sparse_weight=0.4, window=30)
    for smoothed in (True, False):
        assert default_fusion(smoothed, Fusion(sparse_weight=0.5)).sparse_weight == 0.5
        assert default_fusion(smoothed, Fusion(sparse_weight=0.0)).sparse_weight == 0.0  # a given 0 is a choice too
    assert Fusion().describe() == "min_max sparse default"
    with pytest.raises(ConfigError, match="sparse weight is unset"):
        fuse([[("a", 1.0)], []], Fusion())
