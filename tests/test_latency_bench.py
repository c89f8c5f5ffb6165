"""The interleaved latency library (recording methods, no timing assertions) and `sparsedoc bench latency` on Lucene."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest

from sparsedoc.encoder.errors import BackendError, ConfigError
from sparsedoc.encoder.sparse_vector import SparseVector
from sparsedoc.plugin.latency_bench import compare_latency, measure_interleaved, measure_throughput
from sparsedoc.plugin.opensearch.latency import OpenSearchMethods, slowlog_took_ms
from sparsedoc.plugin.opensearch.queries import MAX_LINEAR_WEIGHT, bm25_clause, bm25_query, sparse_query


def _recorder(calls: list[tuple[str, int]], name: str, took: float | None = None):
    def method(i: int) -> float | None:
        calls.append((name, i))
        return took
    return method


def test_interleaved_alternates_order_and_reports_server_time() -> None:
    calls: list[tuple[str, int]] = []
    methods = {"BM25": _recorder(calls, "BM25", took=1.0), "sparse": _recorder(calls, "sparse")}
    stats = measure_interleaved(methods, 4, warmup=0, max_requests=4)
    assert calls == [("BM25", 0), ("sparse", 0), ("sparse", 1), ("BM25", 1),
                     ("BM25", 2), ("sparse", 2), ("sparse", 3), ("BM25", 3)]
    assert stats["BM25"].requests == 4 and stats["BM25"].server == {
        "p50_ms": 1.0, "p95_ms": 1.0, "p99_ms": 1.0, "mean_ms": 1.0}
    assert stats["sparse"].server is None
    for s in stats.values():
        assert set(s.client) == {"p50_ms", "p95_ms", "p99_ms", "mean_ms"}
        assert 0.0 <= s.client["p50_ms"] <= s.client["p95_ms"] <= s.client["p99_ms"]


def test_warmup_is_untimed_and_queries_cycle() -> None:
    calls: list[tuple[str, int]] = []
    stats = measure_interleaved({"a": _recorder(calls, "a"), "b": _recorder(calls, "b")}, 3, warmup=2, max_requests=5)
    assert calls[:4] == [("a", 0), ("b", 0), ("a", 1), ("b", 1)]  # warm-up, in order
    assert [i for name, i in calls[4:] if name == "a"] == [0, 1, 2, 0, 1]
    assert stats["a"].requests == stats["b"].requests == 5


def test_time_cap_stops_on_a_whole_round() -> None:
    calls: list[tuple[str, int]] = []
    stats = measure_interleaved({"a": _recorder(calls, "a"), "b": _recorder(calls, "b")}, 10, warmup=0,
                                max_requests=1000, max_seconds=0.0)
    assert calls == [("a", 0), ("b", 0)]  # the cap is checked after each whole round
    assert stats["a"].requests == stats["b"].requests == 1


def test_compare_gives_ratios_and_throughput() -> None:
    calls: list[tuple[str, int]] = []
    methods = {"BM25": _recorder(calls, "BM25", took=2.0), "sparse": _recorder(calls, "sparse", took=1.0)}
    report = compare_latency(methods, 5, clients=(2,), warmup=1, max_requests=10, seconds_per_method=0.05)
    assert report.ratio("sparse", server=True) == 0.5
    assert report.ratio("BM25") == 1.0
    assert {(t.name, t.clients) for t in report.throughput} == {("BM25", 2), ("sparse", 2)}
    for t in report.throughput:
        assert t.requests > 0 and t.qps == t.requests / t.seconds
        assert t.server is not None and t.server["p50_ms"] == (2.0 if t.name == "BM25" else 1.0)
    assert report.qps_ratio("BM25", 2) == 1.0
    data = json.loads(json.dumps(report.to_dict()))
    assert data["environment"]["cpus"] >= 1 and len(data["environment"]["loadavg"]) == 3
    assert data["ratios"]["sparse"]["server_p50_ms"] == 0.5
    assert [row[0] for row in report.rows()] == ["BM25", "sparse"]
    with pytest.raises(ConfigError):
        compare_latency(methods, 5, baseline="nope")


def test_throughput_counts_every_request_of_every_client() -> None:
    calls: list[tuple[str, int]] = []
    stats = measure_throughput({"a": _recorder(calls, "a"), "b": _recorder(calls, "b")}, 3, 2,
                               seconds_per_method=0.02)
    assert [s.name for s in stats] == ["a", "b"] and all(s.clients == 2 for s in stats)
    assert {s.name: s.requests for s in stats} == {n: sum(1 for name, _ in calls if name == n) for n in "ab"}
    assert {i for _, i in calls} <= {0, 1, 2}


def test_throughput_raises_a_failing_method() -> None:
    def broken(i: int) -> None:
        raise RuntimeError("boom")
    with pytest.raises(BackendError, match="boom"):
        measure_throughput({"x": broken}, 3, 2, seconds_per_method=0.1, slice_seconds=0.1)


def test_opensearch_bodies_are_the_backends(caplog: pytest.LogCaptureFixture) -> None:
    runner = OpenSearchMethods(object(), "idx", vector_field="emb", k=7)
    assert runner.bm25_body("wing lift") == bm25_query(bm25_clause("wing lift", field="text"), size=7)
    vector = SparseVector({"wing": 2 * MAX_LINEAR_WEIGHT, "lift": 2.0, "u.s.": 1.0})
    body = runner.sparse_body(vector)
    assert body == sparse_query(vector, field="emb", mode="neural_sparse", size=7).body
    assert body["query"] == {"neural_sparse": {"emb": {"query_tokens": {
        "wing": MAX_LINEAR_WEIGHT, "lift": 1.0, "u.s.": 0.5}}}}
    seismic = runner.sparse_body({"1996": 1.0}, field="sv", method_parameters={"k": 10, "top_n": 10})
    assert seismic["query"]["neural_sparse"]["sv"]["method_parameters"] == {"k": 10, "top_n": 10}
    core = OpenSearchMethods(object(), "idx", vector_field="emb", query_style="rank_feature")
    with caplog.at_level("WARNING", logger="sparsedoc.plugin.opensearch.latency"):
        clauses = core.sparse_body(SparseVector({"a.b": 1.0, "c": 2.0}))["query"]["bool"]["should"]
    assert clauses == [{"rank_feature": {"field": "emb.c", "linear": {}, "boost": 2.0}}]
    assert "a.b" in caplog.text  # a left-out token is said, not silent
    with pytest.raises(ConfigError):
        OpenSearchMethods(object(), "idx", query_style="bogus")
    with pytest.raises(ConfigError, match="method_parameters"):
        sparse_query({"a": 1.0}, field="emb", mode="rank_feature", size=7, method_parameters={"k": 7})


def test_bench_command_has_help() -> None:
    from sparsedoc.cli.bench_commands import COMMANDS

    group = COMMANDS[0]
    assert isinstance(group, click.Group) and "latency" in group.commands


@pytest.mark.engine
def test_bench_latency_on_lucene(tmp_path: Path, minilm_dir: Path, lucene_backend_cls: type) -> None:
    from click.testing import CliRunner

    from sparsedoc.cli.bench_commands import bench
    from sparsedoc.plugin.base import EncodedDocument

    backend = lucene_backend_cls(tmp_path / "idx")
    words = ["wing", "lift", "drag", "flow", "heat"]
    backend.index([EncodedDocument(f"d{i}", " ".join(words[: 1 + i % 5]),
                                   SparseVector({w: 1.0 + i / 10 for w in words[: 1 + i % 5]})) for i in range(30)])
    backend.close()
    (tmp_path / "q.jsonl").write_text('{"_id": "1", "text": "wing lift"}\n{"_id": "2", "text": "heat flow"}\n')
    (tmp_path / "idf.json").write_text(json.dumps({w: 1.0 + n for n, w in enumerate(words)}))
    out = tmp_path / "report.json"
    result = CliRunner().invoke(bench, [
        "latency", "--index", str(tmp_path / "idx"), "--queries", str(tmp_path / "q.jsonl"),
        "--model", str(minilm_dir), "--idf", str(tmp_path / "idf.json"), "--clients", "2",
        "--throughput-seconds", "0.4", "--max-seconds", "5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "inference-free sparse" in result.output and "BM25" in result.output
    report = json.loads(out.read_text())
    assert report["latency"]["BM25"]["requests"] == 2
    assert [t["clients"] for t in report["throughput"]] == [2, 2]


def test_slowlog_took_reads_one_index_after_an_offset(tmp_path: Path) -> None:
    """Server-side times for benchmarks: OpenSearch 3.6's search slow log lines, units as TimeValue prints them."""
    def line(index: str, took: str) -> str:
        return (f"[2026-11-30T12:50:50,231][WARN ][i.s.s.query              ] [sparsedoc-9270] [{index}][0] "
                f"took[{took}], took_millis[0], total_hits[3372 hits], stats[], search_type[QUERY_THEN_FETCH], "
                'total_shards[1], source[{"size":10,"query":{"match":{"text":"a [b] took[9ms]"}}}], id[], \n')

    log = tmp_path / "slowlog.log"
    log.write_text(line("bench-exact", "5s"))
    offset = log.stat().st_size
    with log.open("a") as handle:
        handle.write(line("bench-exact", "345.7micros") + line("bench-seismic", "2.1ms") + line("bench-exact", "1.2ms"))
        handle.write(line("bench-exact", "999nanos"))
    assert slowlog_took_ms(log, offset, "bench-exact") == pytest.approx([0.3457, 1.2, 0.000999])
    assert slowlog_took_ms(log, offset, "bench-seismic") == pytest.approx([2.1])
    assert slowlog_took_ms(log, 0, "bench-exact")[0] == pytest.approx(5000.0)
