"""Ingest throughput: where the time goes between encoding and indexing.

Run from the repository root::

    python -m benchmarks.ingest                       # Cranfield, SPLADE-tiny (torch), Lucene
    python -m benchmarks.ingest --url http://127.0.0.1:9270   # also OpenSearch (bulk)

Modes, each timed on the same documents (docs/s, higher is better):

* ``encode``: pure encoding (``TorchDocumentEncoder.encode_document``), nothing written;
* ``index``: pure indexing of already-encoded documents held in memory;
* ``pipeline``: the shipped two-step ingest, ``encode_to_file`` then ``index_encoded``;
* ``streaming``: encode a batch, index it, repeat (one thread);
* ``overlapped``: encoding in the main thread while a second thread indexes the
  previous batch (what a pipelined ingest would do).

Modes run in rounds with the order reversed each round; the best round per mode is
kept (least disturbed by other load). Encoding throughput per runtime (torch vs ONNX)
is the subject of ``benchmarks/encoding_throughput.py``; this script only splits the
ingest path.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import queue
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from itertools import islice
from pathlib import Path
from typing import Any

from sparsedoc.cli.environment import jvm_settings
from sparsedoc.cli.tables import format_table
from sparsedoc.plugin.base import EncodedDocument
from sparsedoc.plugin.latency_bench import environment
from sparsedoc.cli.logs import setup_logging

from .datasets import CRANFIELD

logger = logging.getLogger("benchmarks.ingest")


def _lucene_factory(root: Path) -> Callable[[], Any]:
    from sparsedoc.plugin.lucene.backend import LuceneBackend

    counter = [0]

    def make() -> Any:
        counter[0] += 1
        backend = LuceneBackend(root / f"idx{counter[0]}", jvm=jvm_settings())
        backend.create_index(overwrite=True)
        return backend

    return make


class _BulkBackend:
    """Just enough of a Backend for ingest timing: OpenSearch bulk into a rank_features index."""

    def __init__(self, client: Any, index: str) -> None:
        from .engines import _rank_features_body

        self.client, self.index_name = client, index
        client.indices.delete(index=index, ignore_unavailable=True)
        body = _rank_features_body()
        body["settings"]["index"]["refresh_interval"] = "1s"
        client.indices.create(index=index, body=body)

    def index(self, documents: list[EncodedDocument]) -> None:
        from opensearchpy import helpers

        actions = ({"_index": self.index_name, "_id": d.doc_id,
                    "_source": {"text": d.text, "sparse": d.vector.to_dict()}} for d in documents)
        helpers.bulk(self.client, actions, chunk_size=500, request_timeout=300)

    def existing_ids(self, doc_ids: list[str]) -> set[str]:
        return set()

    def close(self) -> None:
        self.client.indices.refresh(index=self.index_name)
        self.client.indices.delete(index=self.index_name, ignore_unavailable=True)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from sparsedoc.encoder.assets import fetch_asset
    from sparsedoc.encoder.torch_doc_encoder import TorchDocumentEncoder
    from sparsedoc.ingest.pipeline import batched, encode_to_file, index_encoded
    from sparsedoc.ingest.readers import read_documents

    documents = list(islice(read_documents(CRANFIELD / "corpus.jsonl"), args.max_docs))
    encoder = TorchDocumentEncoder(fetch_asset("splade-tiny"), batch_size=args.batch_size, max_length=args.max_length)
    encoder.encode_document([d.content for d in documents[:32]])  # warm-up
    encoded = [EncodedDocument(d.doc_id, d.content, v)
               for d, v in zip(documents, encoder.encode_document([d.content for d in documents]))]
    work = Path(tempfile.mkdtemp(prefix="sparsedoc-ingest-bench-"))
    engines: dict[str, Callable[[], Any]] = {"lucene": _lucene_factory(work)}
    if args.url:
        from sparsedoc.plugin.opensearch.client import open_client

        client = open_client(args.url, timeout=300)
        engines["opensearch"] = lambda: _BulkBackend(client, "nsb-ingest")
    n = len(documents)

    def encode_only(_: Any) -> None:
        for batch in batched(documents, args.chunk):
            encoder.encode_document([d.content for d in batch])

    def index_only(backend: Any) -> None:
        for batch in batched(encoded, args.chunk):
            backend.index(batch)

    def pipeline(backend: Any) -> None:
        path = work / f"vectors-{time.monotonic_ns()}.jsonl"
        encode_to_file(iter(documents), encoder, path, batch_size=args.chunk)
        index_encoded(path, backend, batch_size=args.chunk)

    def streaming(backend: Any) -> None:
        for batch in batched(documents, args.chunk):
            vectors = encoder.encode_document([d.content for d in batch])
            backend.index([EncodedDocument(d.doc_id, d.content, v) for d, v in zip(batch, vectors)])

    def overlapped(backend: Any) -> None:
        pending: queue.Queue[list[EncodedDocument] | None] = queue.Queue(maxsize=2)
        failure: list[BaseException] = []

        def consume() -> None:
            try:
                while (item := pending.get()) is not None:
                    backend.index(item)
            except BaseException as exc:  # noqa: BLE001 - re-raised below
                failure.append(exc)

        thread = threading.Thread(target=consume)
        thread.start()
        for batch in batched(documents, args.chunk):
            vectors = encoder.encode_document([d.content for d in batch])
            pending.put([EncodedDocument(d.doc_id, d.content, v) for d, v in zip(batch, vectors)])
        pending.put(None)
        thread.join()
        if failure:
            raise failure[0]

    modes: dict[str, Callable[[Any], None]] = {"encode": encode_only, "index": index_only, "pipeline": pipeline,
                                               "streaming": streaming, "overlapped": overlapped}
    best: dict[str, dict[str, float]] = {}
    rounds: list[dict[str, Any]] = []
    try:
        for r in range(args.rounds):
            order = list(modes) if r % 2 == 0 else list(reversed(modes))
            for engine, make in engines.items():
                for mode in order:
                    if mode == "encode" and engine != "lucene":
                        continue
                    backend = None if mode == "encode" else make()
                    start = time.perf_counter()
                    modes[mode](backend)
                    seconds = time.perf_counter() - start
                    if backend is not None:
                        backend.close()
                    key = "encode" if mode == "encode" else f"{mode} ({engine})"
                    rounds.append({"round": r, "mode": key, "seconds": seconds, "loadavg": list(_load())})
                    rate = n / seconds
                    if rate > best.get(key, {}).get("docs_per_s", 0.0):
                        best[key] = {"docs_per_s": rate, "seconds": seconds}
                    logger.info("round %d %s: %.1f docs/s", r, key, rate)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    encode_rate = best["encode"]["docs_per_s"]
    for stats in best.values():
        stats["vs_encode"] = stats["docs_per_s"] / encode_rate
    return {"documents": n, "batch_size": args.batch_size, "chunk": args.chunk, "max_length": args.max_length,
            "best": best, "rounds": rounds}


def _load() -> tuple[float, float, float]:
    import os

    return os.getloadavg()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/bench"))
    parser.add_argument("--max-docs", type=int, default=1400)
    parser.add_argument("--batch-size", type=int, default=16, help="Documents per forward pass.")
    parser.add_argument("--chunk", type=int, default=64, help="Documents per encode/index step.")
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--url", help="Also time OpenSearch bulk indexing at this URL (index nsb-ingest).")
    args = parser.parse_args(argv)
    setup_logging(1, quiet_libraries=True)
    args.out.mkdir(parents=True, exist_ok=True)
    before = environment()
    result = run(args)
    summary = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {**before, "loadavg_after": list(_load()), "platform": platform.platform()},
        "command": " ".join(["python -m benchmarks.ingest", *(argv if argv is not None else sys.argv[1:])]),
        **result,
    }
    (args.out / "ingest.json").write_text(json.dumps(summary, indent=1))
    rows = [[mode, s["docs_per_s"], s["seconds"], s["vs_encode"]] for mode, s in result["best"].items()]
    print(format_table(["mode", "docs/s", "seconds", "x encode"], rows))
    print(f"wrote {args.out / 'ingest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
