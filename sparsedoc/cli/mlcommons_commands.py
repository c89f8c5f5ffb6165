"""`sparsedoc ml-commons package|deploy|predict`: OpenSearch ML Commons local sparse models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .backends import Connection, connection_options
from .options import INPUT_FILE, model_option, out_dir_option

if TYPE_CHECKING:
    from sparsedoc.plugin.ml_commons.client import MlCommonsClient

PRUNE_TYPES = ("none", "max_ratio", "alpha_mass", "top_k", "abs_value")


def _client(connection: Connection, timeout: float = 300.0) -> MlCommonsClient:
    from sparsedoc.plugin.ml_commons.client import MlCommonsClient

    return MlCommonsClient(connection.require_url(), http_auth=connection.http_auth, ca_certs=connection.ca_certs,
                           timeout=timeout, request_timeout=connection.request_timeout)


@click.group("ml-commons")
def ml_commons() -> None:
    """Sparse models served by OpenSearch ML Commons: package a zip, deploy it, encode with it."""


@ml_commons.command("package")
@model_option("Checkpoint, ONNX export or tokenizer directory to package.")
@click.option("--kind", type=click.Choice(["encoder", "tokenizer"]), required=True,
              help="encoder: SPARSE_ENCODING model; tokenizer: SPARSE_TOKENIZE (tokenizer + idf.json).")
@click.option("--idf", "idf_path", type=INPUT_FILE, help="idf.json (required for --kind tokenizer).")
@out_dir_option("Directory for the zip and register.json.")
@click.option("--format", "model_format", type=click.Choice(["ONNX", "TORCH_SCRIPT"]), default="ONNX",
              show_default=True, help="Model format of an encoder package.")
@click.option("--name", help="Model name (default: from the directory name).")
@click.option("--version", "model_version", default="1.0.0", show_default=True, help="Model version.")
@click.option("--max-length", type=int, help="Token window of an encoder (default: the model's).")
def package(model: Path, kind: str, idf_path: Path | None, out_dir: Path, model_format: str,
            name: str | None, model_version: str, max_length: int | None) -> None:
    """Build an ML Commons model zip from --model (checkpoint, ONNX export or tokenizer dir).

    Writes <name>.zip and register.json (the _register body with sha256) to --out-dir, and
    prints register.json's path.
    """
    from sparsedoc.plugin.ml_commons.encoder_package import package_ml_commons

    if kind == "tokenizer" and idf_path is None:
        raise click.UsageError("--kind tokenizer needs --idf idf.json")
    options: dict[str, Any] = {"name": name, "version": model_version}
    if kind == "encoder":
        options.update(model_format=model_format, max_length=max_length)
    result = package_ml_commons(model, out_dir, kind=kind, idf_path=idf_path, **options)
    click.echo(result.directory / "register.json")


@ml_commons.command("deploy")
@click.argument("package_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@connection_options(url_required=True)
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait for register and deploy.")
@click.option("--via", type=click.Choice(["url", "chunks"]), default="url", show_default=True,
              help="url: the node reads the zip (same file system); chunks: upload it.")
@click.option("--pipeline", help="Also create this sparse_encoding ingest pipeline (encoder packages).")
@click.option("--index", help="Also create this index (rank_features) with the pipeline as default_pipeline.")
@click.option("--text-field", default="text", show_default=True, help="Text field the pipeline encodes.")
@click.option("--vector-field", default="sparse", show_default=True, help="rank_features field it writes.")
@click.option("--prune-type", type=click.Choice(PRUNE_TYPES), default="none", show_default=True)
@click.option("--prune-ratio", type=float, help="Pruning parameter (required unless --prune-type none).")
def deploy(package_dir: Path, connection: Connection, timeout: float, via: str, pipeline: str | None,
           index: str | None, text_field: str, vector_field: str, prune_type: str, prune_ratio: float | None) -> None:
    """Register and deploy PACKAGE_DIR; print a JSON summary with the model id."""
    from sparsedoc.plugin.ml_commons.package import MlCommonsPackage

    if index and not pipeline:
        raise click.UsageError("--index needs --pipeline")
    pkg = MlCommonsPackage.load(package_dir)
    if pipeline and pkg.kind != "encoder":
        raise click.UsageError("--pipeline needs an encoder package (a tokenizer package encodes queries only)")
    with _client(connection, timeout) as ml:
        model_id = ml.register(pkg, via=via)
        ml.deploy(model_id)
        summary: dict[str, Any] = {"model_id": model_id, "name": pkg.register_body["name"],
                                   "function_name": pkg.register_body["function_name"]}
        if pipeline:
            ml.create_sparse_ingest_pipeline(pipeline, model_id, {text_field: vector_field},
                                             prune_type=prune_type, prune_ratio=prune_ratio)
            summary["pipeline"] = pipeline
            if index:
                ml.create_pipeline_index(index, pipeline, text_field=text_field, vector_field=vector_field)
                summary["index"] = index
    click.echo(json.dumps(summary))


@ml_commons.command("predict")
@click.argument("model_id")
@click.argument("texts", nargs=-1, required=True)
@connection_options(url_required=True)
def predict(model_id: str, texts: tuple[str, ...], connection: Connection) -> None:
    """Encode TEXTS with deployed model MODEL_ID; print one JSON object per line.

    ML Commons model ids are random and may start with '-': put them after '--'
    (predict --url URL -- -3xYz "some text").
    """
    with _client(connection) as ml:
        for vector in ml.predict(model_id, list(texts)):
            click.echo(json.dumps(dict(sorted(vector.items(), key=lambda kv: -kv[1])), ensure_ascii=False))


COMMANDS = [ml_commons]
