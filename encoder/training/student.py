"""The trainable document encoder, with MLM logits computed only on selected vocabulary columns.

The ranking loss needs document weights only at the batch's query tokens (queries are token sets),
so the MLM decoder is evaluated on those columns plus a uniform random sample of the other
(non-special) columns; the FLOPS term is estimated on the sample and scaled by
``(#other columns / #sampled)`` (an unbiased estimate). The ranking loss stays exact. This is
what makes CPU training feasible (docs/training-notes.md: about 5x faster per step).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ModelLoadError
from ..loading import check_model_dir
from ..pooling import check_activation, sparse_pool

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ColumnSample:
    """Vocabulary columns to compute: the first ``exact`` are query tokens, the rest a sample."""

    columns: torch.Tensor
    scale: torch.Tensor
    exact: int


def sample_columns(
    query_columns: set[int], vocab_size: int, special_ids: set[int], sample_size: int | None,
    generator: torch.Generator,
) -> ColumnSample:
    """Query columns plus ``sample_size`` random others (``None``: all columns, exact FLOPS)."""
    import torch

    exact = sorted(query_columns - special_ids)
    taken = set(exact) | special_ids
    others = torch.tensor([j for j in range(vocab_size) if j not in taken], dtype=torch.long)
    if sample_size is None or sample_size >= len(others):
        sampled, factor = others, 1.0
    else:
        order = torch.randperm(len(others), generator=generator)[:sample_size]
        sampled, factor = others[order].sort().values, len(others) / max(1, sample_size)
    columns = torch.cat([torch.tensor(exact, dtype=torch.long), sampled])
    scale = torch.cat([torch.ones(len(exact)), torch.full((len(sampled),), float(factor))])
    return ColumnSample(columns, scale, len(exact))


class _ColumnDecoder:
    """Stands in for the output embedding ``Linear`` and computes only ``columns``."""

    def __init__(self, decoder: torch.nn.Module, columns: torch.Tensor) -> None:
        self.decoder, self.columns = decoder, columns

    def __call__(self, hidden: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        bias = self.decoder.bias[self.columns] if getattr(self.decoder, "bias", None) is not None else None
        return F.linear(hidden, self.decoder.weight[self.columns], bias)


def load_student(model_dir: str | Path) -> PreTrainedModel:
    """Load any fill-mask checkpoint, or an encoder-only one with a fresh MLM head tied to the word embeddings."""
    from transformers import AutoModelForMaskedLM

    directory = check_model_dir(model_dir)
    try:
        model, info = AutoModelForMaskedLM.from_pretrained(str(directory), local_files_only=True,
                                                           output_loading_info=True)
    except Exception as err:
        raise ModelLoadError(f"{directory}: cannot load as a fill-mask model ({type(err).__name__}: {err})") from err
    output, embeddings = model.get_output_embeddings(), model.get_input_embeddings()
    if output is None:
        raise ModelLoadError(f"{directory}: the model has no output embeddings (MLM decoder)")
    missing = sorted(info.get("missing_keys") or ())
    if missing:
        logger.warning("%s: fresh MLM head (%d weights initialised, e.g. %s)", directory, len(missing), missing[0])
        if output.weight is not embeddings.weight and output.weight.shape == embeddings.weight.shape:
            output.weight = embeddings.weight  # tie the fresh decoder to the word embeddings
    return model


class SparseStudent:
    """Wraps a fill-mask model: ``document_weights(ids, mask, columns)`` -> ``[docs, columns]``."""

    def __init__(self, model: PreTrainedModel, activation: str = "log1p") -> None:
        self.model = model
        self.activation = check_activation(activation)
        decoder = model.get_output_embeddings()
        self._parent, self._attribute = next(
            (parent, name)
            for parent in model.modules()
            for name, child in parent.named_children()
            if child is decoder
        )

    @property
    def vocab_size(self) -> int:
        return int(self.model.get_output_embeddings().weight.shape[0])

    def document_weights(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, columns: torch.Tensor | None
    ) -> torch.Tensor:
        """SPLADE-pooled weights of the given columns (all columns when ``None``)."""
        if columns is None:
            logits = self.model(input_ids=input_ids, attention_mask=attention_mask).logits
            return sparse_pool(logits, attention_mask, self.activation)
        decoder = getattr(self._parent, self._attribute)
        object.__setattr__(self._parent, "_sparsedoc_decoder", decoder)
        del self._parent._modules[self._attribute]
        object.__setattr__(self._parent, self._attribute, _ColumnDecoder(decoder, columns))
        try:
            logits = self.model(input_ids=input_ids, attention_mask=attention_mask).logits
        finally:
            object.__delattr__(self._parent, self._attribute)
            object.__delattr__(self._parent, "_sparsedoc_decoder")
            self._parent._modules[self._attribute] = decoder
        return sparse_pool(logits, attention_mask, self.activation)
