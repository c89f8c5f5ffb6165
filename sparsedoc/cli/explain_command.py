"""`sparsedoc explain QUERY --doc ID`: which query tokens a document matched, with what weights, and its BM25 score."""

from __future__ import annotations

from pathlib import Path

import click

from sparsedoc.encoder.idf_query_encoder import IdfQueryEncoder
from sparsedoc.plugin.explanation import Explanation
from sparsedoc.plugin.query_budget import MAX_QUERY_TOKENS

from .backends import Connection, SearchSettings, backend_options, open_backend, search_options
from .options import INPUT_FILE, model_option
from .tables import format_table


@click.command("explain")
@click.argument("query")
@click.option("--doc", "doc_id", required=True, help="Id of the document to explain.")
@click.option("--index", "index_name", required=True, help="Index directory (lucene) or name (opensearch).")
@model_option("Model (or tokenizer) directory: its tokenizer splits the query.")
@click.option("--idf", "idf_path", type=INPUT_FILE, required=True, help="idf.json weighting the query tokens.")
@backend_options
@search_options(approximate=False)
def explain_command(query: str, doc_id: str, index_name: str, model: Path, idf_path: Path, backend: str,
                    connection: Connection, search: SearchSettings) -> None:
    """Explain document --doc's score for QUERY: its sparse score token by token, then its BM25 explanation.

    Each query token the document holds: its query weight (the token's IDF), the document's
    stored weight and their product; the products sum to the engine's sparse score. Then
    the engine's own BM25 explanation (Lucene's explain, OpenSearch's _explain API).
    """
    vector = IdfQueryEncoder.from_files(model, idf_path).encode_query([query])[0]
    with open_backend(backend, index_name, connection, search) as engine:
        explanation = engine.explain(query, vector, doc_id)
    if explanation.dropped_tokens:
        click.echo(f"query budget: dropped {explanation.dropped_tokens} tokens/terms "
                   f"(each query keeps its {MAX_QUERY_TOKENS} highest-IDF)", err=True)
    click.echo(render(explanation))


def render(explanation: Explanation) -> str:
    """The sparse table (largest contribution first), its total, and the BM25 tree, as text."""
    rows = [[m.token, f"{m.query_weight:.4f}", f"{m.document_weight:.4f}", f"{m.contribution:.4f}"]
            for m in explanation.matches]
    lines = [f"document {explanation.doc_id}: sparse",
             format_table(["token", "query weight (idf)", "document weight", "contribution"], rows),
             (f"total {explanation.total:.4f} over {len(rows)} matched tokens "
              f"(engine's sparse score {explanation.sparse_score:.4f})"),
             "",
             f"document {explanation.doc_id}: BM25 {explanation.bm25_score:.4f}",
             explanation.bm25.render()]
    return "\n".join(lines)


COMMANDS = [explain_command]
