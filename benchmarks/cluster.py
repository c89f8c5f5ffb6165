"""OpenSearch on 1 node vs 3 nodes: ingest docs/s and sparse query latency (p50/p99).

Run from the repository root::

    python -m benchmarks.cluster                      # 20,000 synthetic documents, 300 queries
    python -m benchmarks.cluster --docs 50000 --heap 1g

Each setup starts local nodes on 127.0.0.1 (plugin/opensearch/node/cluster.py), creates an index with
3 primaries (1 replica on 3 nodes, none on 1 node), bulk-writes the same random sparse
documents, then runs the same ``neural_sparse`` queries one at a time (client wall time). All
nodes share this machine's cores, so 3 nodes measure replication and coordination overhead
here, not scale-out. Writes ``benchmarks/results/cluster.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from sparsedoc.cli.tables import format_table
from sparsedoc.encoder.sparse_vector import SparseVector
from sparsedoc.plugin.base import EncodedDocument
from sparsedoc.plugin.latency_bench import environment
from sparsedoc.plugin.opensearch.node.cluster import LocalOpenSearchCluster
from sparsedoc.plugin.opensearch.backend import OpenSearchBackend

RESULTS = Path(__file__).resolve().parent / "results" / "cluster.json"
VOCAB = [f"t{i}" for i in range(5000)]


def _documents(count: int, seed: int = 1) -> list[EncodedDocument]:
    rng = random.Random(seed)
    return [EncodedDocument(f"d{i}", "", SparseVector({t: rng.uniform(0.01, 3.0) for t in rng.sample(VOCAB, 80)}))
            for i in range(count)]


def _queries(count: int, seed: int = 2) -> list[SparseVector]:
    rng = random.Random(seed)
    return [SparseVector({t: rng.uniform(0.5, 12.0) for t in rng.sample(VOCAB, 8)}) for _ in range(count)]


def _free_ports(count: int) -> list[int]:
    ports: list[int] = []
    rng = random.Random()
    while len(ports) < count:
        port = rng.randrange(21000, 29000)
        if any(abs(port - p) in (0, 100) for p in ports):
            continue
        with socket.socket() as a, socket.socket() as b:
            try:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 100))
            except OSError:
                continue
        ports.append(port)
    return ports


def run_setup(nodes: int, docs: list[EncodedDocument], queries: list[SparseVector], heap: str) -> dict[str, Any]:
    """Start ``nodes`` nodes, ingest ``docs``, time ``queries``; return one result row."""
    with tempfile.TemporaryDirectory(prefix="sparsedoc-cluster-bench-") as data:
        with LocalOpenSearchCluster(_free_ports(nodes), Path(data), heap=heap, configure_ml=False) as cluster:
            backend = OpenSearchBackend(cluster.url, "bench", shards=3, replicas=1 if nodes > 1 else 0,
                                        chunk_size=500, timeout=120, refresh_interval="-1")
            backend.create_index(overwrite=True)
            started = time.perf_counter()
            report = backend.index(docs)
            ingest_s = time.perf_counter() - started
            for query in queries[:20]:  # warm-up
                backend.search_sparse(query, k=10)
            latencies = []
            for query in queries:
                t0 = time.perf_counter()
                backend.search_sparse(query, k=10)
                latencies.append((time.perf_counter() - t0) * 1000)
            backend.close()
    return {"nodes": nodes, "shards": 3, "replicas": 1 if nodes > 1 else 0, "documents": report.indexed,
            "ingest_s": ingest_s, "ingest_docs_per_s": report.indexed / ingest_s, "queries": len(queries),
            "p50_ms": float(np.percentile(latencies, 50)), "p99_ms": float(np.percentile(latencies, 99))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=20000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--heap", default="512m", help="JVM heap per node")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    docs, queries = _documents(args.docs), _queries(args.queries)
    before = environment()
    rows = [run_setup(n, docs, queries, args.heap) for n in (1, 3)]
    print(format_table(["nodes", "replicas", "docs", "ingest docs/s", "p50 ms", "p99 ms"],
                       [[r["nodes"], r["replicas"], r["documents"], r["ingest_docs_per_s"], r["p50_ms"], r["p99_ms"]]
                        for r in rows]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": rows, "heap": args.heap, "machine_before": before,
                                    "machine_after": environment()}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
