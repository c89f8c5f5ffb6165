"""Trace a fill-mask document model to TorchScript for DJL (ML Commons' ``TORCH_SCRIPT`` format).

The traced module takes one dict ``{"input_ids", "attention_mask"}`` (DJL passes inputs named
``input1.input_ids`` / ``input1.attention_mask`` as one dict argument) and returns
``{"output": weights [batch, vocab]}``, like OpenSearch's pretrained sparse models. It wraps
the same graph as the ONNX export (:func:`build_export_module`) and passes the same parity
gate (:func:`check_parity`) before it is saved.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .doc_batches import special_token_ids, tokenize_documents
from .export_graph import build_export_module
from .export_parity import ParityReport, check_parity
from .loading import check_model_dir, load_masked_lm, load_tokenizer, model_activation
from .pooling import check_activation

TORCHSCRIPT_OUTPUT = "output"
_TRACE_TEXTS = ("a short document", "a somewhat longer sample document about wings and lift")


def build_torchscript_module(model: Any, special_ids: list[int], activation: str) -> Any:
    """Wrap a fill-mask model for TorchScript: ``forward({"input_ids", "attention_mask"}) -> {"output"}``."""
    import torch

    graph = build_export_module(model, special_ids, activation)

    class DictInputSparseEncoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.graph = graph

        def forward(self, features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
            return {TORCHSCRIPT_OUTPUT: self.graph(features["input_ids"], features["attention_mask"])}

    return DictInputSparseEncoder().eval()


def export_torchscript(
    model_dir: str | Path, output_path: str | Path, *, max_length: int = 512, activation: str | None = None
) -> ParityReport:
    """Trace ``model_dir`` into ``output_path`` (``model.pt``) after checking it against PyTorch.

    Args:
        model_dir: local Hugging Face fill-mask checkpoint.
        output_path: the ``.pt`` file to write.
        max_length: token window of the parity check (capped at the model's positions).
        activation: ``"log1p"`` or ``"log1p_log1p"`` (``None``: what the model records, else log1p).

    Returns:
        The parity report (traced on batch 2, checked on other shapes, batch 1 included).

    Raises:
        ModelLoadError: the checkpoint cannot be loaded.
        ExportValidationError: the trace disagrees with PyTorch; nothing is written.

    Example:
        >>> export_torchscript("models/splade-tiny", "out/model.pt").passed  # doctest: +SKIP
        True
    """
    import torch

    source = check_model_dir(model_dir)
    activation = check_activation(activation or model_activation(source))
    tokenizer = load_tokenizer(source)
    model = load_masked_lm(source)
    window = min(max_length, int(getattr(model.config, "max_position_embeddings", max_length)))
    special = special_token_ids(tokenizer)
    module = build_torchscript_module(model, special, activation)
    batch = tokenize_documents(tokenizer, list(_TRACE_TEXTS), window)
    example = {"input_ids": torch.from_numpy(batch.input_ids), "attention_mask": torch.from_numpy(batch.attention_mask)}
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        traced = torch.jit.trace(module, (example,), strict=False, check_trace=False)

    def run(input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            features = {"input_ids": torch.from_numpy(input_ids), "attention_mask": torch.from_numpy(attention_mask)}
            return traced(features)[TORCHSCRIPT_OUTPUT].numpy()

    report = check_parity(run, model, tokenizer, max_length=window, activation=activation, special_ids=special,
                          name=f"{source} (TorchScript)")
    traced.save(str(output_path))
    return report
