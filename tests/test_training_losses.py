"""Training formulas on hand-computed tensors."""

from __future__ import annotations

import math

import pytest
import torch

from sparsedoc.encoder.errors import ConfigError
from sparsedoc.encoder.training.ensemble import ensemble_targets, minmax_normalize
from sparsedoc.encoder.training.flops import flops_loss, l0_gate, lambda_at
from sparsedoc.encoder.training.idf_scoring import TrainableIdf, idf_aware_scores, idf_vector, query_presence
from sparsedoc.encoder.training.ranking_losses import info_nce_loss, kl_divergence_loss, margin_mse_loss
from sparsedoc.encoder.training.sparse_loss import InferenceFreeSparseLoss
from sparsedoc.encoder.training.student import sample_columns


def test_minmax_per_row():
    out = minmax_normalize(torch.tensor([[1.0, 3.0, 2.0], [5.0, 5.0, 7.0]]))
    assert out.flatten().tolist() == pytest.approx([0.0, 1.0, 0.5, 0.0, 0.0, 1.0], abs=1e-5)


def test_minmax_ignores_masked_candidates():
    mask = torch.tensor([[1, 1, 0]])
    out = minmax_normalize(torch.tensor([[1.0, 3.0, 100.0]]), mask)
    assert out.flatten().tolist() == pytest.approx([0.0, 1.0, 0.0], abs=1e-5)


def test_ensemble_weighted_mean_times_scale():
    teachers = {"a": torch.tensor([[0.0, 10.0]]), "b": torch.tensor([[4.0, 2.0]])}
    out = ensemble_targets(teachers, {"a": 3.0, "b": 1.0}, scale=30.0)
    assert out.flatten().tolist() == pytest.approx([7.5, 22.5], abs=1e-3)
    assert ensemble_targets(teachers, scale=2.0).flatten().tolist() == pytest.approx([1.0, 1.0], abs=1e-5)


def test_ensemble_rejects_unknown_teacher_weight():
    with pytest.raises(ConfigError, match="unknown teachers"):
        ensemble_targets({"a": torch.zeros(1, 2)}, {"z": 1.0})


def test_kl_hand_computed():
    student, teacher = torch.tensor([[0.0, 0.0]]), torch.tensor([[0.0, math.log(3.0)]])
    expected = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)
    assert kl_divergence_loss(student, teacher).item() == pytest.approx(expected, abs=1e-6)
    assert kl_divergence_loss(teacher, teacher).item() == pytest.approx(0.0, abs=1e-7)


def test_kl_mask_drops_padding():
    student, teacher = torch.tensor([[0.0, 0.0, 9.0]]), torch.tensor([[0.0, math.log(3.0), -5.0]])
    masked = kl_divergence_loss(student, teacher, torch.tensor([[1, 1, 0]]))
    assert masked.item() == pytest.approx(kl_divergence_loss(student[:, :2], teacher[:, :2]).item(), abs=1e-6)


def test_margin_mse_and_info_nce():
    assert margin_mse_loss(torch.tensor([[3.0, 1.0, 2.0]]), torch.tensor([[2.0, 0.0, 2.0]])).item() == pytest.approx(0.5)
    assert info_nce_loss(torch.tensor([[math.log(3.0), 0.0]])).item() == pytest.approx(-math.log(0.75), abs=1e-6)


def test_flops_hand_computed():
    docs = torch.tensor([[1.0, 0.0], [-3.0, 2.0]])
    assert flops_loss(docs).item() == pytest.approx(5.0)  # mean |d| = [2, 1]
    assert flops_loss(docs, column_scale=torch.tensor([1.0, 10.0])).item() == pytest.approx(14.0)
    assert flops_loss(docs, doc_gate=torch.tensor([0.0, 1.0])).item() == pytest.approx(3.25)  # [1.5, 1]


def test_lambda_quadratic_warmup():
    assert lambda_at(0, 2.0, 10) == pytest.approx(0.02)
    assert lambda_at(4, 2.0, 10) == pytest.approx(0.5)
    assert lambda_at(9, 2.0, 10) == pytest.approx(2.0)
    assert lambda_at(50, 2.0, 10) == pytest.approx(2.0)
    assert lambda_at(3, 2.0, 0) == 2.0


def test_l0_gate_penalises_only_long_documents():
    gate = l0_gate(torch.tensor([100.0, 150.0, 300.0]), 150)
    assert gate.tolist() == [0.0, 0.0, 1.0]


def test_idf_aware_score_gradient_is_idf():
    docs = torch.tensor([[0.5, 1.0, 2.0]], requires_grad=True)
    presence = torch.tensor([[1.0, 1.0, 0.0]])
    idf = torch.tensor([3.0, 0.25, 7.0])
    score = idf_aware_scores(presence, docs, idf)
    assert score.item() == pytest.approx(3.0 * 0.5 + 0.25 * 1.0)
    score.sum().backward()
    assert docs.grad.tolist() == [[3.0, 0.25, 0.0]]  # d s / d d_t = idf_t for query tokens, 0 otherwise


def test_binary_queries_without_idf():
    docs = torch.tensor([[0.5, 1.0, 2.0]])
    assert idf_aware_scores(torch.tensor([[1.0, 0.0, 1.0]]), docs, None).item() == pytest.approx(2.5)


def test_query_presence_and_idf_vector():
    presence = query_presence([[7, 7, 3], [9]], torch.tensor([3, 7, 11]))
    assert presence.tolist() == [[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    assert idf_vector({"b": 2.0}, {"a": 0, "b": 1}, 3).tolist() == [0.0, 2.0, 0.0]
    with pytest.raises(ConfigError, match="not in the student's vocabulary"):
        idf_vector({"zz": 1.0}, {"a": 0}, 3)


def test_trainable_idf_gets_gradient_and_table():
    idf = TrainableIdf(torch.tensor([0.0, 1.0, 2.0]), trainable=True)
    score = idf_aware_scores(torch.tensor([[0.0, 1.0, 1.0]]), torch.tensor([[1.0, 3.0, 5.0]]), idf.values())
    score.sum().backward()
    assert idf.parameter.grad.tolist() == [0.0, 3.0, 5.0]
    assert idf.to_table(["[PAD]", "a", "b"], {0}) == {"a": 1.0, "b": 2.0}


def test_combined_loss_parts():
    loss = InferenceFreeSparseLoss(flops_weight=2.0, warmup_steps=10)
    docs = torch.tensor([[1.0, 0.0], [-3.0, 2.0]])
    parts = loss(torch.zeros(1, 2), torch.zeros(1, 2), docs, step=4)
    assert parts["ranking"].item() == pytest.approx(0.0)
    assert parts["flops"].item() == pytest.approx(5.0)
    assert parts["flops_weight"].item() == pytest.approx(0.5)
    assert parts["loss"].item() == pytest.approx(2.5)
    with pytest.raises(ConfigError):
        InferenceFreeSparseLoss(ranking="bogus")
    with pytest.raises(ConfigError, match="nonzero"):
        InferenceFreeSparseLoss(l0_threshold=1.0)(torch.zeros(1, 2), torch.zeros(1, 2), docs, step=0)


def test_sample_columns_keeps_query_tokens_and_scales_sample():
    sample = sample_columns({5, 0}, 20, {0, 1}, 6, torch.Generator().manual_seed(0))
    assert sample.exact == 1 and sample.columns[0].item() == 5
    assert len(sample.columns) == 7 and not {0, 1} & set(sample.columns.tolist())
    assert sample.scale[0].item() == 1.0 and sample.scale[1:].tolist() == pytest.approx([17 / 6] * 6)
    full = sample_columns({5}, 20, {0}, None, torch.Generator())
    assert len(full.columns) == 19 and full.scale.tolist() == [1.0] * 19
