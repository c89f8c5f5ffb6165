"""Evaluation through ir_measures and sparsity statistics, on inline runs and qrels."""

from __future__ import annotations

import math

import pytest

from sparsedoc.encoder.metrics import evaluate_run, latency_percentiles, sparsity_stats

QRELS = {"q1": {"d1": 1, "d3": 1}, "q2": {"d2": 1}}
RUN = {"q1": {"d1": 3.0, "d2": 2.0, "d3": 1.0}, "q2": {"d1": 5.0, "d2": 1.0}}


def test_metrics_match_hand_values() -> None:
    metrics = evaluate_run(RUN, QRELS, ["RR@10", "R@100", "nDCG@10"])
    assert metrics["RR@10"] == pytest.approx((1.0 + 0.5) / 2)
    assert metrics["R@100"] == pytest.approx(1.0)
    ndcg_q1 = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    ndcg_q2 = (1 / math.log2(3)) / 1
    assert metrics["nDCG@10"] == pytest.approx((ndcg_q1 + ndcg_q2) / 2)


def test_unanswered_queries_count_as_zero() -> None:
    assert evaluate_run({"q1": RUN["q1"]}, QRELS, ["RR@10"])["RR@10"] == pytest.approx(0.5)


def test_sparsity_flops_by_hand() -> None:
    docs = [{"a": 1.0, "b": 1.0}, {"a": 2.0}, {"c": 1.0, "d": 1.0, "e": 1.0}]
    queries = [{"a": 1.0}, {"a": 1.0, "c": 1.0}]
    stats = sparsity_stats(docs, queries)
    # p_q(a)=1, p_d(a)=2/3; p_q(c)=1/2, p_d(c)=1/3
    assert stats.flops == pytest.approx(2 / 3 + 1 / 6)
    assert stats.mean_nonzeros == pytest.approx(2.0)
    assert stats.documents == 3


def test_latency_percentiles_in_ms() -> None:
    result = latency_percentiles([0.001] * 99 + [0.1])
    assert result["p50_ms"] == pytest.approx(1.0)
    assert result["p99_ms"] > 1.0


def test_time_interleaved_alternates_order_after_warmup() -> None:
    from sparsedoc.encoder.metrics import time_interleaved

    calls: list[tuple[str, int]] = []
    methods = {name: (lambda i, name=name: calls.append((name, i)) or i * 10) for name in ("a", "b")}
    timed = time_interleaved(methods, [3, 4], warmup=[0])
    assert calls == [("a", 0), ("b", 0), ("a", 3), ("b", 3), ("b", 4), ("a", 4)]
    assert [result for _, result in timed["a"]] == [30, 40]
    assert all(seconds >= 0 for seconds, _ in timed["b"])
