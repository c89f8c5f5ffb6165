"""`sparsedoc package|deploy|predict`: OpenSearch ML Commons local sparse models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from .options import INPUT_FILE, MODEL_DIR

PRUNE_TYPES = ("none", "max_ratio", "alpha_mass", "top_k", "abs_value")


def _connection_options(command: click.decorators.FC) -> click.decorators.FC:
    options = [
        click.option("--url", envvar="SPARSEDOC_OPENSEARCH_URL", required=True, help="OpenSearch URL."),
        click.option("--user", envvar="SPARSEDOC_OPENSEARCH_USER", help="Basic-auth user."),
        click.option("--password", envvar="SPARSEDOC_OPENSEARCH_PASSWORD", help="Basic-auth password."),
        click.option("--ca-certs", type=click.Path(exists=True, dir_okay=False), help="CA bundle for TLS."),
        click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait for register/deploy."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _client(url: str, user: str | None, password: str | None, ca_certs: str | None, timeout: float) -> Any:
    from sparsedoc.plugin.ml_commons import MlCommonsClient

    return MlCommonsClient(url, http_auth=(user, password or "") if user else None, ca_certs=ca_certs,
                           timeout=timeout)


@click.command("package")
@click.argument("model", type=MODEL_DIR)
@click.option("--kind", type=click.Choice(["encoder", "tokenizer"]), required=True,
              help="encoder: SPARSE_ENCODING model; tokenizer: SPARSE_TOKENIZE (tokenizer + idf.json).")
@click.option("--idf", "idf_path", type=INPUT_FILE, help="idf.json (required for --kind tokenizer).")
@click.option("--out", "output_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory for the zip and register.json.")
@click.option("--format", "model_format", type=click.Choice(["ONNX", "TORCH_SCRIPT"]), default="ONNX",
              show_default=True, help="Model format of an encoder package.")
@click.option("--name", help="Model name (default: from the directory name).")
@click.option("--version", "model_version", default="1.0.0", show_default=True, help="Model version.")
@click.option("--max-length", type=int, help="Token window of an encoder (default: the model's).")
def package(model: Path, kind: str, idf_path: Path | None, output_dir: Path, model_format: str,
            name: str | None, model_version: str, max_length: int | None) -> None:
    """Build an ML Commons model zip from MODEL (checkpoint, ONNX export or tokenizer dir).

    Writes <name>.zip and register.json (the _register body with sha256) to --out, and
    prints register.json's path.
    """
    from sparsedoc.plugin.ml_commons_encoder_package import package_ml_commons

    if kind == "tokenizer" and idf_path is None:
        raise click.UsageError("--kind tokenizer needs --idf idf.json")
    options: dict[str, Any] = {"name": name, "version": model_version}
    if kind == "encoder":
        options.update(model_format=model_format, max_length=max_length)
    result = package_ml_commons(model, output_dir, kind=kind, idf_path=idf_path, **options)
    click.echo(result.directory / "register.json")


@click.command("deploy")
@click.argument("package_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@_connection_options
@click.option("--via", type=click.Choice(["url", "chunks"]), default="url", show_default=True,
              help="url: the node reads the zip (same file system); chunks: upload it.")
@click.option("--pipeline", help="Also create this sparse_encoding ingest pipeline (encoder packages).")
@click.option("--index", help="Also create this index (rank_features) with the pipeline as default_pipeline.")
@click.option("--text-field", default="text", show_default=True, help="Text field the pipeline encodes.")
@click.option("--vector-field", default="sparse", show_default=True, help="rank_features field it writes.")
@click.option("--prune-type", type=click.Choice(PRUNE_TYPES), default="none", show_default=True)
@click.option("--prune-ratio", type=float, help="Pruning parameter (required unless --prune-type none).")
def deploy(package_dir: Path, url: str, user: str | None, password: str | None, ca_certs: str | None,
           timeout: float, via: str, pipeline: str | None, index: str | None, text_field: str,
           vector_field: str, prune_type: str, prune_ratio: float | None) -> None:
    """Register and deploy PACKAGE_DIR; print a JSON summary with the model id."""
    from sparsedoc.plugin.ml_commons_package import MlCommonsPackage

    if index and not pipeline:
        raise click.UsageError("--index needs --pipeline")
    pkg = MlCommonsPackage.load(package_dir)
    if pipeline and pkg.kind != "encoder":
        raise click.UsageError("--pipeline needs an encoder package (a tokenizer package encodes queries only)")
    with _client(url, user, password, ca_certs, timeout) as ml:
        model_id = ml.register(pkg, via=via)
        ml.deploy(model_id)
        summary: dict[str, Any] = {"model_id": model_id, "name": pkg.register_body["name"],
                                   "function_name": pkg.register_body["function_name"]}
        if pipeline:
            ml.create_sparse_ingest_pipeline(pipeline, model_id, {text_field: vector_field},
                                             prune_type=prune_type, prune_ratio=prune_ratio)
            summary["pipeline"] = pipeline
        if index:
            ml.create_pipeline_index(index, pipeline, text_field=text_field, vector_field=vector_field)  # type: ignore[arg-type]
            summary["index"] = index
    click.echo(json.dumps(summary))


@click.command("predict")
@click.argument("model_id")
@click.argument("texts", nargs=-1, required=True)
@_connection_options
def predict(model_id: str, texts: tuple[str, ...], url: str, user: str | None, password: str | None,
            ca_certs: str | None, timeout: float) -> None:
    """Encode TEXTS with deployed model MODEL_ID; print one JSON object per line."""
    with _client(url, user, password, ca_certs, timeout) as ml:
        for vector in ml.predict(model_id, list(texts)):
            click.echo(json.dumps(dict(sorted(vector.items(), key=lambda kv: -kv[1])), ensure_ascii=False))


COMMANDS = [package, deploy, predict]
