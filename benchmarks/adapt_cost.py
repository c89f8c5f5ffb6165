"""Wall time of ``sparsedoc adapt`` with its defaults on a 10,000-document corpus (issue 17: 20 minutes or less).

The corpus: every document of the shared Cranfield, SciFact and CISI collections (8,043 real
abstracts, ids prefixed by collection), topped up to ``--documents`` with documents of 2-4
sentences recombined from their sentences (``benchmarks.realtext.recombined``). It is a bare
corpus (no qrels), so adapt trains, keeps the best checkpoint on its held-out pseudo-queries and
chooses the smoothing, without the before/after evaluation. Run it alone on the machine::

    python -m benchmarks.adapt_cost --workdir runs/adapt-cost

Writes ``benchmarks/results/adapt_cost.json`` (total seconds, the training steps' seconds estimated
from the logged steps, the kept step) and prints a line. A rerun of the same workdir resumes (and so is not a timing).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from sparsedoc.ingest.readers import read_documents

from .datasets import SHARED_DATA, write_result
from .realtext import COLLECTIONS, recombined, sentences

RESULTS = Path(__file__).resolve().parent / "results" / "adapt_cost.json"


def write_corpus(path: Path, size: int) -> int:
    """Write the benchmark corpus as JSONL; return how many documents are real abstracts."""
    rows = [{"_id": f"{name}-{d.doc_id}", "title": "", "text": d.content}
            for name in COLLECTIONS for d in read_documents(SHARED_DATA / name / "corpus.jsonl")][:size]
    real = len(rows)
    rows += [{"_id": d.doc_id, "title": "", "text": d.content}
             for d in recombined(sentences(), max(0, size - real), seed=17)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return real


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("runs/adapt-cost"))
    parser.add_argument("--documents", type=int, default=10_000)
    args = parser.parse_args(argv)
    if (args.workdir / "adapt").exists():
        parser.error(f"{args.workdir / 'adapt'} exists: a rerun would resume, not time; remove it first")
    corpus = args.workdir / "corpus.jsonl"
    real = write_corpus(corpus, args.documents)
    command = [sys.executable, "-m", "sparsedoc.cli.main", "adapt", str(corpus), "--workdir",
               str(args.workdir / "adapt"), "--no-progress"]
    load_before = os.getloadavg()
    started = time.perf_counter()
    subprocess.run(command, check=True)
    seconds = time.perf_counter() - started
    log = [json.loads(line) for line in (args.workdir / "adapt" / "train_log.jsonl").read_text().splitlines()]
    timed = [r for r in log if "seconds" in r]  # every log_every-th step
    training = sum(r["seconds"] for r in timed) / max(1, len(timed)) * max((r["step"] for r in timed), default=0)
    best = json.loads((args.workdir / "adapt" / "best.json").read_text())
    result = {"documents": args.documents, "real_abstracts": real, "seconds": round(seconds, 1),
              "training_step_seconds": round(training, 1),
              "kept_step": best["kept_step"], "cpus": os.cpu_count(),
              "load_average": {"before": load_before, "after": os.getloadavg()}}
    write_result(RESULTS, result)
    print(f"adapt on {args.documents:,} documents ({real:,} real abstracts): {seconds / 60:.1f} min "
          f"(training steps {result['training_step_seconds'] / 60:.1f} min), kept step {best['kept_step']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
