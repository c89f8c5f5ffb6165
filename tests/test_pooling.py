"""SPLADE pooling math on hand-computed tensors."""

from __future__ import annotations

import math

import pytest
import torch

from sparsedoc.encoder.errors import ConfigError
from sparsedoc.encoder.pooling import sparse_pool, zero_columns


def test_log1p_relu_max_over_unmasked_positions() -> None:
    # batch 1, 3 positions (last is padding), vocab 4
    logits = torch.tensor([[[1.0, -2.0, 0.5, 3.0], [2.0, -1.0, -0.5, 1.0], [9.0, 9.0, 9.0, 9.0]]])
    mask = torch.tensor([[1, 1, 0]])
    pooled = sparse_pool(logits, mask)
    expected = [math.log1p(2.0), 0.0, math.log1p(0.5), math.log1p(3.0)]
    assert pooled.tolist()[0] == pytest.approx(expected)


def test_double_log_activation() -> None:
    logits = torch.tensor([[[math.e - 1.0, 0.0]]])
    pooled = sparse_pool(logits, torch.tensor([[1]]), "log1p_log1p")
    assert pooled.tolist()[0] == pytest.approx([math.log1p(1.0), 0.0])


def test_inplace_equals_functional_and_overwrites_input() -> None:
    logits = torch.randn(2, 5, 7)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    reference = sparse_pool(logits, mask)
    copy = logits.clone()
    assert torch.equal(sparse_pool(copy, mask, inplace=True), reference)
    assert not torch.equal(copy, logits)


def test_zero_columns_and_unknown_activation() -> None:
    weights = torch.ones(2, 4)
    assert zero_columns(weights, [0, 3]).tolist() == [[0, 1, 1, 0], [0, 1, 1, 0]]
    assert weights.sum() == 8  # input untouched
    with pytest.raises(ConfigError, match="log1p"):
        sparse_pool(torch.zeros(1, 1, 1), torch.ones(1, 1), "relu")
