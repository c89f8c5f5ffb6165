"""`sparsedoc export-onnx | quantize`: ONNX export with a parity gate, int8 with a quality gate."""

from __future__ import annotations

from pathlib import Path

import click

from sparsedoc.encoder.pooling import ACTIVATIONS

from .options import MODEL_DIR, model_option, out_dir_option, overwrite_option


@click.command("export-onnx")
@model_option("Fill-mask model directory to export.")
@out_dir_option("Directory for model.onnx, tokenizer and metadata.")
@click.option("--activation", type=click.Choice(ACTIVATIONS), default=None,
              help="[default: what the model records, else log1p]")
@click.option("--max-length", default=512, show_default=True, help="Token window recorded for encoders.")
@overwrite_option("Replace an existing export in --out-dir.")
def export_onnx_command(model: Path, out_dir: Path, activation: str | None, max_length: int, overwrite: bool) -> None:
    """Export a fill-mask --model to ONNX (pooling inside the graph), validated against PyTorch.

    The export fails unless every weight is within 1e-4 of PyTorch and the top tokens match.
    """
    from sparsedoc.encoder.onnx_export import export_onnx

    click.echo(export_onnx(model, out_dir, activation=activation, max_length=max_length, overwrite=overwrite))


@click.command("quantize")
@model_option("fp32 ONNX export (from `sparsedoc export-onnx`) to quantise.")
@out_dir_option("Directory for the int8 model.")
@click.option("--gate", "gate_dataset", type=MODEL_DIR,
              help="BEIR dataset folder: compare nDCG@10 of int8 and fp32 (fails if int8 loses more than --max-drop).")
@click.option("--max-drop", default=0.005, show_default=True, help="Largest acceptable nDCG@10 loss.")
@overwrite_option("Replace an existing int8 model in --out-dir.")
def quantize_command(model: Path, out_dir: Path, gate_dataset: Path | None, max_drop: float, overwrite: bool) -> None:
    """Quantise an fp32 ONNX export to int8 (dynamic, per channel), optionally behind a quality gate."""
    from sparsedoc.encoder.onnx_doc_encoder import OnnxDocumentEncoder
    from sparsedoc.encoder.onnx_quantize import compare_quantized_quality, quantize_int8
    from sparsedoc.ingest.readers import BeirDataset

    target = quantize_int8(model, out_dir, overwrite=overwrite)
    click.echo(target)
    if gate_dataset is None:
        return
    dataset = BeirDataset.open(gate_dataset)
    qrels = dataset.qrels()
    quality = compare_quantized_quality(
        OnnxDocumentEncoder(model), OnnxDocumentEncoder(target),
        {d.doc_id: d.content for d in dataset.documents()},
        {q.query_id: q.text for q in dataset.queries() if q.query_id in qrels}, qrels, max_drop=max_drop,
    )
    click.echo(f"nDCG@10 on {dataset.name}: fp32 {quality.fp32_ndcg:.4f}, int8 {quality.int8_ndcg:.4f} "
               f"(delta {quality.delta:+.4f}, allowed -{max_drop})")
    if not quality.passed:
        raise click.ClickException(f"int8 model loses {-quality.delta:.4f} nDCG@10, more than {max_drop}; "
                                   f"keep the fp32 export for quality")


COMMANDS = [export_onnx_command, quantize_command]
