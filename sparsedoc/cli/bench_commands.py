"""`sparsedoc bench latency`: BM25 vs inference-free sparse latency on your own index."""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path
from typing import Any

import click

from sparsedoc.encoder.idf import load_idf
from sparsedoc.encoder.idf_query_encoder import IdfQueryEncoder
from sparsedoc.encoder.loading import load_tokenizer
from sparsedoc.ingest.readers import read_queries
from sparsedoc.plugin.latency_bench import ROW_HEADERS, backend_methods, compare_latency
from sparsedoc.plugin.opensearch.errors import redact_url
from sparsedoc.plugin.opensearch.latency import OpenSearchMethods

from .backends import Connection, SearchSettings, backend_options, open_backend, search_options
from .options import INPUT_FILE, model_option, out_file_option, top_k_option
from .tables import format_table


@click.group("bench")
def bench() -> None:
    """Benchmarks against your own engine (bounded in requests and time)."""


@bench.command("latency")
@click.option("--index", "index_name", required=True, help="Index name (opensearch) or directory (lucene).")
@click.option("--queries", "queries_path", required=True, type=INPUT_FILE, help="Queries JSONL (_id, text).")
@model_option("Model (or tokenizer) directory: its tokenizer splits the queries.")
@click.option("--idf", "idf_path", required=True, type=INPUT_FILE, help="idf.json for query weights.")
@top_k_option(10, "Hits per request.")
@click.option("--max-queries", default=200, show_default=True, help="Distinct queries used (at most).")
@click.option("--max-seconds", default=60.0, show_default=True, help="Time cap of the single-client pass.")
@click.option("--clients", default="1,4", show_default=True, help="Concurrent clients for QPS runs ('' for none).")
@click.option("--throughput-seconds", default=5.0, show_default=True, help="Seconds per method and client count.")
@out_file_option("Write the full report as JSON.", required=False)
@backend_options
@search_options(approximate=False)
def latency_command(index_name: str, queries_path: Path, model: Path, idf_path: Path, top_k: int,
                    max_queries: int, max_seconds: float, clients: str, throughput_seconds: float,
                    out: Path | None, backend: str, connection: Connection, search: SearchSettings) -> None:
    """Compare BM25 and inference-free sparse latency on one existing index, interleaved.

    Sparse latency includes query encoding (tokenise + IDF). With --backend opensearch
    only --url is contacted, and the server's `took` is reported next to client times.
    """
    if max_queries < 1:
        raise click.BadParameter("must be >= 1", param_hint="--max-queries")
    client_counts = [int(c) for c in clients.split(",") if c.strip()]
    encoder = IdfQueryEncoder(load_tokenizer(model), load_idf(idf_path))
    texts = [q.text for q in islice(read_queries(queries_path), max_queries)]
    if not texts:
        raise click.UsageError(f"no queries in {queries_path}")

    def encode(i: int) -> Any:
        return encoder.encode_query([texts[i]])[0]

    closer: Any = None
    if backend == "opensearch":
        from sparsedoc.plugin.opensearch.client import detect_query_mode, open_client

        url = connection.require_url()
        client = open_client(url, http_auth=connection.http_auth, ca_certs=connection.ca_certs,
                             timeout=connection.request_timeout, pool_maxsize=max(client_counts, default=1) + 2)
        closer = client
        mode = detect_query_mode(client, redact_url(url)) if search.query_mode == "auto" else search.query_mode
        runner = OpenSearchMethods(client, index_name, text_field=search.text_field,
                                   vector_field=search.vector_field, k=top_k, query_style=mode)
        methods = {"BM25": runner.bm25(texts), "inference-free sparse": runner.sparse(encode)}
    else:
        engine = open_backend(backend, index_name, search=search)
        closer = engine
        methods = backend_methods(engine, texts, encode, k=top_k)
    try:
        report = compare_latency(methods, len(texts), clients=client_counts,
                                 max_seconds=max_seconds, seconds_per_method=throughput_seconds)
    finally:
        closer.close()
    click.echo(f"{backend} {index_name}: {len(texts)} queries, k={top_k}, load average {report.environment['loadavg']}")
    click.echo(format_table(ROW_HEADERS, report.rows()))
    if report.throughput:
        click.echo(format_table(["method", "clients", "QPS", "p50 ms", "p99 ms"], [
            [t.name, t.clients, t.qps, t.client["p50_ms"], t.client["p99_ms"]] for t in report.throughput]))
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"index": index_name, "backend": backend, "k": top_k, **report.to_dict()}, indent=1))
        click.echo(f"wrote {out}")


COMMANDS = [bench]
