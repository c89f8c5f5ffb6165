"""`sparsedoc bench latency`: BM25 vs inference-free sparse latency on your own index."""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path
from typing import Any

import click

from sparsedoc.encoder.idf_query_encoder import IdfQueryEncoder
from sparsedoc.encoder.loading import load_tokenizer
from sparsedoc.encoder.idf import load_idf
from sparsedoc.ingest.readers import read_queries
from sparsedoc.plugin.latency_bench import ROW_HEADERS, OpenSearchMethods, backend_methods, compare_latency

from .backends import backend_options, open_backend
from .options import INPUT_FILE, MODEL_DIR
from .tables import format_table


@click.group("bench")
def bench() -> None:
    """Benchmarks against your own engine (bounded in requests and time)."""


@bench.command("latency")
@click.option("--index", "index_name", required=True, help="Index name (opensearch) or directory (lucene).")
@click.option("--queries", "queries_path", required=True, type=INPUT_FILE, help="Queries JSONL (_id, text).")
@click.option("--tokenizer", "tokenizer_dir", required=True, type=MODEL_DIR, help="Document model / tokenizer dir.")
@click.option("--idf", "idf_path", required=True, type=INPUT_FILE, help="idf.json for query weights.")
@click.option("--k", default=10, show_default=True, help="Hits per request.")
@click.option("--max-queries", default=200, show_default=True, help="Distinct queries used (at most).")
@click.option("--max-seconds", default=60.0, show_default=True, help="Time cap of the single-client pass.")
@click.option("--clients", default="1,4", show_default=True, help="Concurrent clients for QPS runs ('' for none).")
@click.option("--throughput-seconds", default=5.0, show_default=True, help="Seconds per method and client count.")
@click.option("--text-field", default="text", show_default=True, help="BM25 text field (opensearch).")
@click.option("--vector-field", default="sparse", show_default=True, help="rank_features field (opensearch).")
@click.option("--query-style", type=click.Choice(OpenSearchMethods.QUERY_STYLES), default="neural_sparse",
              show_default=True, help="neural_sparse (neural-search plugin) or core rank_feature clauses.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the full report as JSON.")
@backend_options
def latency_command(index_name: str, queries_path: Path, tokenizer_dir: Path, idf_path: Path, k: int,
                    max_queries: int, max_seconds: float, clients: str, throughput_seconds: float,
                    text_field: str, vector_field: str, query_style: str, out: Path | None,
                    backend: str, url: str | None, user: str | None, password: str | None,
                    ca_certs: str | None) -> None:
    """Compare BM25 and inference-free sparse latency on one existing index, interleaved.

    Sparse latency includes query encoding (tokenise + IDF). With --backend opensearch
    only --url is contacted, and the server's `took` is reported next to client times.
    """
    if max_queries < 1:
        raise click.BadParameter("must be >= 1", param_hint="--max-queries")
    client_counts = [int(c) for c in clients.split(",") if c.strip()]
    encoder = IdfQueryEncoder(load_tokenizer(tokenizer_dir), load_idf(idf_path))
    texts = [q.text for q in islice(read_queries(queries_path), max_queries)]
    if not texts:
        raise click.UsageError(f"no queries in {queries_path}")

    def encode(i: int) -> Any:
        return encoder.encode_query([texts[i]])[0]

    closer: Any = None
    if backend == "opensearch":
        if not url:
            raise click.UsageError("--backend opensearch needs --url (or SPARSEDOC_OPENSEARCH_URL)")
        from sparsedoc.plugin.opensearch_client import open_client

        client = open_client(url, http_auth=(user, password or "") if user else None, ca_certs=ca_certs,
                             timeout=60, pool_maxsize=max(client_counts) + 2)
        closer = client
        runner = OpenSearchMethods(client, index_name, text_field=text_field, vector_field=vector_field,
                                   k=k, query_style=query_style)
        methods = {"BM25": runner.bm25(texts), "inference-free sparse": runner.sparse(encode)}
    else:
        engine = open_backend(backend, index_name)
        closer = engine
        methods = backend_methods(engine, texts, encode, k=k)
    try:
        report = compare_latency(methods, len(texts), clients=client_counts,
                                 max_seconds=max_seconds, seconds_per_method=throughput_seconds)
    finally:
        closer.close()
    click.echo(f"{backend} {index_name}: {len(texts)} queries, k={k}, load average {report.environment['loadavg']}")
    click.echo(format_table(ROW_HEADERS, report.rows()))
    if report.throughput:
        click.echo(format_table(["method", "clients", "QPS", "p50 ms", "p99 ms"], [
            [t.name, t.clients, t.qps, t.client["p50_ms"], t.client["p99_ms"]] for t in report.throughput]))
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"index": index_name, "backend": backend, "k": k, **report.to_dict()}, indent=1))
        click.echo(f"wrote {out}")


COMMANDS = [bench]
