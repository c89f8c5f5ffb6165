"""The document encoder on onnxruntime: runs a directory written by ``export_onnx``.

Tokenisation, truncation counting, length-sorted batching and decoding are the shared steps
of :mod:`.doc_batches`, so this encoder returns the same vectors as
:class:`TorchDocumentEncoder` (within the export's validated tolerance).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from .doc_batches import BatchedDocumentEncoder, vocabulary_list
from .doc_windows import DEFAULT_LONG_DOCUMENTS, DEFAULT_MAX_WINDOWS, check_long_documents
from .errors import ConfigError, ModelLoadError
from .extras import import_extra
from .loading import file_sha256, load_tokenizer
from .onnx_format import INPUT_NAMES, METADATA_FILE, MODEL_FILE, OUTPUT_NAME, is_onnx_dir, read_metadata
from .protocols import DocumentEncoder
from .pruning import Pruning

logger = logging.getLogger(__name__)

OPTIMIZATION_LEVELS = ("disable", "basic", "extended", "all")


class OnnxDocumentEncoder(BatchedDocumentEncoder):
    """Encode documents with an exported ONNX model (fp32 or int8) on onnxruntime.

    Args:
        onnx_dir: a directory from :func:`export_onnx` or :func:`quantize_int8`
            (``model.onnx``, tokenizer files, ``sparsedoc_onnx.json``).
        max_length: token window; defaults to (and is capped at) the export's.
        long_documents: ``"truncate"`` or ``"windows"``, as for :class:`TorchDocumentEncoder`.
        window_stride: content tokens between window starts (default: a whole window, so
            windows overlap only where the last one is aligned to the document's end).
        max_windows: windows encoded per document at most; a longer document keeps its first
            ``max_windows`` windows and is counted as truncated.
        batch_size: documents per run (batches are formed by length to cut padding).
        num_threads: onnxruntime intra-op threads (``None``: onnxruntime's default).
        allow_spinning: let idle intra-op threads spin-wait for the next operator instead of
            sleeping. Turn it off when other processes share the cores: spinning threads
            then take CPU time from the working ones.
        pruning: optional pruning applied to each vector after encoding.
        provider: onnxruntime execution provider.
        optimization: graph optimisation level, one of ``OPTIMIZATION_LEVELS``.
        activation: if given, must equal the export's (a guard for callers that pass it).
        verify_checksum: check ``model.onnx`` against the SHA-256 in ``sparsedoc_onnx.json``.

    Raises:
        ConfigError: invalid arguments.
        ModelLoadError: missing or corrupt ``model.onnx``, missing tokenizer, or a tokenizer
            or graph that does not match ``sparsedoc_onnx.json``.

    Example:
        >>> enc = OnnxDocumentEncoder("models/splade-tiny-onnx", num_threads=2)  # doctest: +SKIP
        >>> enc.encode_document(["wing lift in a slipstream"])[0].top_k(3)  # doctest: +SKIP
    """

    def __init__(
        self,
        onnx_dir: str | Path,
        *,
        max_length: int | None = None,
        long_documents: str = DEFAULT_LONG_DOCUMENTS,
        window_stride: int | None = None,
        max_windows: int = DEFAULT_MAX_WINDOWS,
        batch_size: int = 8,
        num_threads: int | None = None,
        allow_spinning: bool = True,
        pruning: Pruning | None = None,
        provider: str = "CPUExecutionProvider",
        optimization: str = "all",
        activation: str | None = None,
        verify_checksum: bool = True,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        if max_length is not None and max_length < 2:
            raise ConfigError(f"max_length must be >= 2, got {max_length}")
        if num_threads is not None and num_threads < 0:
            raise ConfigError(f"num_threads must be >= 0, got {num_threads}")
        if optimization not in OPTIMIZATION_LEVELS:
            raise ConfigError(f"optimization must be one of {OPTIMIZATION_LEVELS}, got {optimization!r}")
        self.long_documents = check_long_documents(long_documents, window_stride, max_windows)
        self.window_stride = window_stride
        self.max_windows = max_windows
        self.onnx_dir = self.model_dir = Path(onnx_dir)
        if not self.onnx_dir.is_dir():
            raise ModelLoadError(f"ONNX model directory not found: {self.onnx_dir}")
        self.metadata = read_metadata(self.onnx_dir)
        self.activation: str = self.metadata["activation"]
        if activation is not None and activation != self.activation:
            raise ConfigError(f"activation {activation!r} differs from the export's {self.activation!r}")
        window = int(self.metadata["max_length"])
        self.max_length = min(max_length or window, window)
        self.batch_size = batch_size
        self.pruning = pruning or Pruning()
        self.special_ids: list[int] = [int(i) for i in self.metadata["special_token_ids"]]
        self.truncated_documents = 0
        self.windowed_documents = 0

        model_path = self.onnx_dir / self.metadata["model_file"]
        if not model_path.is_file():
            raise ModelLoadError(f"{self.onnx_dir}: {model_path.name} is missing")
        if verify_checksum and file_sha256(model_path) != self.metadata["model_sha256"]:
            raise ModelLoadError(
                f"{model_path}: contents do not match {METADATA_FILE} (truncated, corrupt or replaced file)"
            )
        self.tokenizer = load_tokenizer(self.onnx_dir)
        self.vocabulary = vocabulary_list(self.tokenizer)
        self._check_tokenizer()
        self.session = self._open_session(model_path, provider, num_threads, optimization, allow_spinning)

    def _check_tokenizer(self) -> None:
        vocab_size = int(self.metadata["vocab_size"])
        if len(self.tokenizer) > vocab_size:
            raise ModelLoadError(
                f"{self.onnx_dir}: tokenizer has {len(self.tokenizer)} tokens but the model {vocab_size} "
                f"({METADATA_FILE} mismatch)"
            )
        special = sorted({i for i in self.tokenizer.all_special_ids if i is not None and i >= 0})
        if special != sorted(self.special_ids):
            raise ModelLoadError(
                f"{self.onnx_dir}: tokenizer special ids {special} differ from {METADATA_FILE}'s {self.special_ids}"
            )

    def _open_session(self, model_path: Path, provider: str, num_threads: int | None, optimization: str,
                      allow_spinning: bool) -> Any:
        ort = import_extra("onnxruntime", "OnnxDocumentEncoder")
        if provider not in ort.get_available_providers():
            raise ConfigError(f"provider {provider!r} not available; choose one of {ort.get_available_providers()}")
        options = ort.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = num_threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if allow_spinning else "0")
        options.graph_optimization_level = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }[optimization]
        try:
            session = ort.InferenceSession(str(model_path), options, providers=[provider])
        except Exception as err:  # onnxruntime raises its own Fail/InvalidProtobuf types
            raise ModelLoadError(f"{model_path}: onnxruntime cannot load it ({type(err).__name__}: {err})") from err
        inputs = [i.name for i in session.get_inputs()]
        outputs = session.get_outputs()
        if sorted(inputs) != sorted(INPUT_NAMES) or [o.name for o in outputs] != [OUTPUT_NAME]:
            raise ModelLoadError(
                f"{model_path}: graph has inputs {inputs} and outputs {[o.name for o in outputs]}, "
                f"expected {list(INPUT_NAMES)} -> [{OUTPUT_NAME!r}] (not an sparsedoc export)"
            )
        width = outputs[0].shape[-1]
        if isinstance(width, int) and width != int(self.metadata["vocab_size"]):
            raise ModelLoadError(f"{model_path}: output width {width} != vocab_size in {METADATA_FILE}")
        return session

    def run_batch(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Run the graph on already tokenised ids (``int64``, ``[batch, seq]``)."""
        feeds = {"input_ids": input_ids.astype(np.int64, copy=False),
                 "attention_mask": attention_mask.astype(np.int64, copy=False)}
        return self.session.run([OUTPUT_NAME], feeds)[0]


def load_document_encoder(path: str | Path, **kwargs: Any) -> DocumentEncoder:
    """Open a document encoder for ``path``: onnxruntime for an ONNX export, else PyTorch.

    Keyword arguments go to :class:`OnnxDocumentEncoder` or :class:`TorchDocumentEncoder`
    (``device`` is torch-only and ignored for ONNX when ``"cpu"``).

    Raises:
        ModelLoadError: ``model.onnx`` without ``sparsedoc_onnx.json``, or any load failure.

    Example:
        >>> enc = load_document_encoder("models/splade-tiny-onnx", batch_size=8)  # doctest: +SKIP
    """
    directory = Path(path)
    if is_onnx_dir(directory):
        if not (directory / METADATA_FILE).is_file():
            raise ModelLoadError(f"{directory}: {MODEL_FILE} without {METADATA_FILE}; re-export with export_onnx")
        device = kwargs.pop("device", "cpu")
        if device != "cpu":
            raise ConfigError(f"ONNX models run on onnxruntime providers, not torch device {device!r}")
        return OnnxDocumentEncoder(directory, **kwargs)
    from .torch_doc_encoder import TorchDocumentEncoder

    return TorchDocumentEncoder(directory, **kwargs)
