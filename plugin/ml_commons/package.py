"""Package sparsedoc models as OpenSearch ML Commons local models (zip + register request body).

Two kinds of package, both registered with ``POST /_plugins/_ml/models/_register``:

* ``tokenizer`` -> ``function_name: SPARSE_TOKENIZE``: a zip of ``tokenizer.json`` and
  ``idf.json``. ML Commons tokenises the query with special tokens, keeps unique ids, names
  each by ``decode([id], skip_special_tokens=True)`` and weights it by ``idf.json``, giving
  **1.0** to tokens absent from the table. A weight of 0 cannot stand in for "absent":
  ``neural_sparse`` with ``query_text`` + ``model_id`` refuses it ("weight must be in
  (0, 64.0], got: 0.0"). So the server side always weights unknown tokens by a positive
  ``unknown_weight`` (1.0, ML Commons' own, by default; another value is written into
  ``idf.json`` for every vocabulary token absent from the table); it equals
  ``IdfQueryEncoder(..., unknown_weight=<same>)``, not sparsedoc's default of 0.
* ``encoder`` -> ``function_name: SPARSE_ENCODING``: a zip of one model file (ONNX or
  TorchScript) and ``tokenizer.json``, built by :mod:`.encoder_package`.

This module holds what both kinds share (the package record, zip checks, token-name checks,
``tokenizer.json`` text, writing the zip) and the tokenizer package.

Keys: ML Commons names tokens by decoding single ids, sparsedoc by the vocabulary string. The
two agree for WordPiece (BERT) vocabularies; packaging checks every token and refuses a
tokenizer where they differ (e.g. byte-level BPE), since stored and query keys would not match.

Example:
    >>> pkg = package_sparse_tokenizer("models/splade-tiny", "idf.json", "out/tok")  # doctest: +SKIP
    >>> pkg.register_body["function_name"]  # doctest: +SKIP
    'SPARSE_TOKENIZE'
"""

from __future__ import annotations

import json
import logging
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparsedoc.encoder.errors import ConfigError, ModelLoadError
from sparsedoc.encoder.idf import load_idf
from sparsedoc.encoder.loading import file_sha256, load_tokenizer

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

logger = logging.getLogger(__name__)

KINDS = ("encoder", "tokenizer")
MODEL_FORMATS = ("ONNX", "TORCH_SCRIPT")
FUNCTION_NAMES = {"encoder": "SPARSE_ENCODING", "tokenizer": "SPARSE_TOKENIZE"}
REGISTER_FILE = "register.json"
TOKENIZER_FILE = "tokenizer.json"
IDF_FILE = "idf.json"
ML_COMMONS_UNKNOWN_WEIGHT = 1.0
FORMAT_FILES = {"ONNX": "model.onnx", "TORCH_SCRIPT": "model.pt"}


@dataclass(frozen=True)
class MlCommonsPackage:
    """A model zip and the body that registers it.

    Attributes:
        zip_path: the zip file (absolute).
        sha256: hex SHA-256 of the zip (``model_content_hash_value``).
        size: zip size in bytes (``model_content_size_in_bytes``).
        register_body: the ``_register`` request body (with ``url: file:///...``).
        kind: ``"encoder"`` or ``"tokenizer"``.
        details: what was packaged (source, vocabulary size, window, checks done).
    """

    zip_path: Path
    sha256: str
    size: int
    register_body: dict[str, Any]
    kind: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def directory(self) -> Path:
        """The package directory (holds the zip and ``register.json``)."""
        return self.zip_path.parent

    def save(self) -> Path:
        """Write ``register.json`` next to the zip and return its path."""
        path = self.directory / REGISTER_FILE
        record = {"zip": self.zip_path.name, "sha256": self.sha256, "size": self.size, "kind": self.kind,
                  "register_body": self.register_body, "details": self.details}
        path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, directory: str | Path) -> MlCommonsPackage:
        """Read a package directory and verify the zip against ``register.json``.

        Raises:
            ModelLoadError: no or malformed ``register.json``, zip missing, or the zip's
                size or SHA-256 differs from the register body (the node would refuse it).
        """
        directory = Path(directory).resolve()
        path = directory / REGISTER_FILE
        if not path.is_file():
            raise ModelLoadError(f"{directory}: no {REGISTER_FILE} "
                                 "(build the package with `sparsedoc ml-commons package`)")
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            zip_path = directory / record["zip"]
            body = dict(record["register_body"])
            kind = record["kind"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ModelLoadError(f"{path}: malformed ({type(err).__name__}: {err})") from err
        if kind not in KINDS:
            raise ModelLoadError(f"{path}: kind {kind!r} is not one of {KINDS}")
        if not zip_path.is_file():
            raise ModelLoadError(f"{directory}: {zip_path.name} named in {REGISTER_FILE} is missing")
        check_zip(zip_path, body)
        body["url"] = zip_path.as_uri()
        return cls(zip_path, body["model_content_hash_value"], zip_path.stat().st_size, body, kind,
                   dict(record.get("details") or {}))


def check_zip(zip_path: str | Path, register_body: Mapping[str, Any]) -> None:
    """Check that a zip matches its register body (size, SHA-256) and holds what ML Commons needs.

    Raises:
        ModelLoadError: size or hash mismatch, unreadable zip, or missing members.
    """
    zip_path = Path(zip_path)
    size = zip_path.stat().st_size
    expected_size = register_body.get("model_content_size_in_bytes")
    if expected_size is not None and int(expected_size) != size:
        raise ModelLoadError(f"{zip_path}: {size} bytes but the register body says {expected_size} "
                             "(truncated or replaced zip)")
    digest = file_sha256(zip_path)
    if digest != register_body.get("model_content_hash_value"):
        registered = str(register_body.get("model_content_hash_value"))
        raise ModelLoadError(f"{zip_path}: sha256 {digest[:12]}... differs from the register body's "
                             f"{registered[:12]}... (zip changed after packaging)")
    try:
        with zipfile.ZipFile(zip_path) as archive:
            names = set(archive.namelist())
            bad = archive.testzip()
    except (OSError, zipfile.BadZipFile) as err:
        raise ModelLoadError(f"{zip_path}: not a readable zip ({err})") from err
    if bad is not None:
        raise ModelLoadError(f"{zip_path}: member {bad} is corrupt")
    needed = {TOKENIZER_FILE}
    if register_body.get("function_name") == "SPARSE_TOKENIZE":
        needed.add(IDF_FILE)
    else:
        needed.add(FORMAT_FILES.get(str(register_body.get("model_format")), "model file"))
    missing = sorted(needed - names)
    if missing:
        raise ModelLoadError(f"{zip_path}: missing {missing} (has {sorted(names)})")


def _fast_tokenizer(tokenizer: PreTrainedTokenizerBase, source: Path) -> Any:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise ConfigError(f"{source}: ML Commons needs a Hugging Face fast tokenizer (tokenizer.json); "
                          "this tokenizer has none")
    return backend


def check_token_names(tokenizer: PreTrainedTokenizerBase, source: str | Path) -> int:
    """Check that decoding each single id gives the vocabulary string (ML Commons' token names).

    Returns:
        The number of tokens checked.

    Raises:
        ModelLoadError: some tokens decode to another string (names the first few).
    """
    backend = _fast_tokenizer(tokenizer, Path(source))
    special = set(tokenizer.all_special_tokens)
    vocabulary = backend.get_vocab()
    ids = [i for token, i in vocabulary.items() if token not in special]
    decoded = backend.decode_batch([[i] for i in ids], skip_special_tokens=True)
    tokens = tokenizer.convert_ids_to_tokens(ids)
    differ = [(t, d) for t, d in zip(tokens, decoded, strict=True) if t != d]
    if differ:
        raise ModelLoadError(
            f"{source}: {len(differ)} of {len(ids)} tokens decode to another string in ML Commons "
            f"(e.g. {differ[:3]}); stored and query token names would not match (WordPiece vocabularies only)"
        )
    return len(ids)


def tokenizer_json(tokenizer: PreTrainedTokenizerBase, source: Path, max_length: int | None) -> str:
    """tokenizer.json text with no padding and truncation at ``max_length`` (or none)."""
    from tokenizers import Tokenizer

    backend = Tokenizer.from_str(_fast_tokenizer(tokenizer, source).to_str())
    backend.no_padding()
    if max_length is None:
        backend.no_truncation()
    else:
        backend.enable_truncation(max_length=max_length)
    return backend.to_str()


# -- packages ------------------------------------------------------------------------------
def package_sparse_tokenizer(
    tokenizer_dir: str | Path,
    idf_path: str | Path,
    output_dir: str | Path,
    *,
    name: str | None = None,
    version: str = "1.0.0",
    description: str | None = None,
    unknown_weight: float = 1.0,
) -> MlCommonsPackage:
    """Build a SPARSE_TOKENIZE package: ``tokenizer.json`` + ``idf.json`` for every vocabulary token.

    Args:
        tokenizer_dir: directory with the document model's tokenizer.
        idf_path: ``idf.json`` built on that tokenizer's vocabulary.
        output_dir: where to write ``<name>.zip`` and ``register.json``.
        name / version / description: model name (default: the tokenizer directory's name).
        unknown_weight: weight of tokens absent from ``idf.json`` (> 0; 1.0 is ML Commons'
            default and adds nothing to the zip). Query with ``IdfQueryEncoder(...,
            unknown_weight=<same>)`` for the same vectors client-side.

    Returns:
        The package, with ``register.json`` written.

    Raises:
        ModelLoadError: idf.json from another vocabulary, or a tokenizer whose decoded
            token names differ from its vocabulary.
        InputError: a malformed ``idf.json``.
    """
    from sparsedoc.encoder.idf_query_encoder import IdfQueryEncoder

    if not unknown_weight > 0:
        raise ConfigError(f"unknown_weight must be > 0 (neural_sparse refuses weight 0), got {unknown_weight}")
    source = Path(tokenizer_dir)
    tokenizer = load_tokenizer(source)
    idf = load_idf(idf_path)
    IdfQueryEncoder(tokenizer, idf)  # raises ModelLoadError for a table from another vocabulary
    checked = check_token_names(tokenizer, source)
    special = set(tokenizer.all_special_tokens)
    table = dict(idf)
    if unknown_weight != ML_COMMONS_UNKNOWN_WEIGHT:
        table = {token: idf.get(token, unknown_weight) for token in tokenizer.get_vocab() if token not in special}
    files = {TOKENIZER_FILE: tokenizer_json(tokenizer, source, None),
             IDF_FILE: json.dumps(dict(sorted(table.items())), ensure_ascii=False)}
    details = {"source": str(source.resolve()), "idf": str(Path(idf_path).resolve()), "idf_tokens": len(idf),
               "vocabulary": checked, "unknown_weight": unknown_weight,
               "query_encoder": f"IdfQueryEncoder(tokenizer, idf, unknown_weight={unknown_weight})"}
    return write_package(files, output_dir, kind="tokenizer", model_format="TORCH_SCRIPT",
                          name=name or f"{source.name}-sparse-tokenizer", version=version,
                          description=description or f"sparsedoc IDF query tokenizer ({source.name})", details=details)


def write_package(files: Mapping[str, str | Path], output_dir: str | Path, *, kind: str, model_format: str,
                   name: str, version: str, description: str, details: dict[str, Any]) -> MlCommonsPackage:
    if not name or "/" in name:
        raise ConfigError(f"invalid model name {name!r}")
    output = Path(output_dir).resolve()
    output.mkdir(parents=True, exist_ok=True)
    zip_path = output / f"{name}.zip"
    partial = zip_path.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for member, content in files.items():
            if isinstance(content, Path):
                archive.write(content, member)
            else:
                archive.writestr(member, content)
    partial.replace(zip_path)
    sha256 = file_sha256(zip_path)
    size = zip_path.stat().st_size
    body: dict[str, Any] = {
        "name": name,
        "version": version,
        "description": description,
        "function_name": FUNCTION_NAMES[kind],
        "model_format": model_format,
        "model_content_hash_value": sha256,
        "model_content_size_in_bytes": size,
        "url": zip_path.as_uri(),
    }
    package = MlCommonsPackage(zip_path, sha256, size, body, kind, details)
    package.save()
    logger.info("packaged %s (%s, %d bytes, sha256 %s)", zip_path, FUNCTION_NAMES[kind], size, sha256[:12])
    return package
