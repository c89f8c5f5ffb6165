"""Seconds per training step of each student on the same teacher-scored data (issue 17: measure before training).

Runs ``steps`` steps of the ``adapt`` recipe per student on the first examples of a scored training
file (``benchmarks.ablation`` writes them under ``WORK/data``), reads each step's seconds from
``train_log.jsonl`` and reports the median and p95 after ``--skip`` warm-up steps, plus what 1,000
steps would take. Nothing else should run beside it (2 cores).

    python -m benchmarks.step_cost --train-file runs/ablation/data/pseudo.dense+sparse+bm25.jsonl \\
        --students splade-tiny,all-MiniLM-L6-v2 --steps 12

Writes ``benchmarks/results/step_cost.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from sparsedoc.cli.tables import format_table
from sparsedoc.encoder.assets import fetch_asset
from sparsedoc.encoder.training import read_training_file, write_training_file
from sparsedoc.encoder.training.config import load_config, recipe_path
from sparsedoc.encoder.training.trainer import train_from_config

from .datasets import write_result

RESULTS = Path(__file__).resolve().parent / "results" / "step_cost.json"


def step_seconds(student: Path, train_file: Path, steps: int, work: Path) -> list[float]:
    """Each step's seconds for ``steps`` steps of ``student`` on ``train_file`` (scores already attached)."""
    config = load_config(recipe_path("adapt"), {
        "output_dir": str(work), "train_file": str(train_file), "steps": steps, "log_every": 1,
        "checkpoint_every": 0, "resume": False, "student": {"model_dir": str(student)}, "teachers": [],
        "idf": {"path": None}})
    train_from_config(config, progress=False)
    log = [json.loads(line) for line in (work / "train_log.jsonl").read_text().splitlines()]
    return [r["seconds"] for r in log if "seconds" in r]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-file", type=Path, required=True, help="a teacher-scored training file")
    parser.add_argument("--students", default="splade-tiny,all-MiniLM-L6-v2", help="assets or model folders")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--skip", type=int, default=2, help="warm-up steps left out of the statistics")
    parser.add_argument("--examples", type=int, default=400, help="training examples used")
    args = parser.parse_args(argv)
    rows, results = [], []
    with tempfile.TemporaryDirectory(prefix="sparsedoc-step-cost-") as scratch:
        examples = read_training_file(args.train_file)[: args.examples]
        sample = write_training_file(examples, Path(scratch) / "train.jsonl")
        for name in args.students.split(","):
            model = Path(name) if Path(name).is_dir() else fetch_asset(name)
            seconds = step_seconds(model, sample, args.steps, Path(scratch) / name.replace("/", "_"))[args.skip:]
            median, p95 = float(np.median(seconds)), float(np.percentile(seconds, 95))
            results.append({"student": name, "steps": len(seconds), "median_s": median, "p95_s": p95,
                            "seconds_per_1000_steps": 1000 * median})
            rows.append([name, len(seconds), f"{median:.2f}", f"{p95:.2f}", f"{1000 * median / 3600:.1f} h"])
    print(format_table(["student", "steps timed", "median s/step", "p95 s/step", "1,000 steps"], rows))
    write_result(RESULTS, {"train_file": str(args.train_file), "cpus": os.cpu_count(),
                               "load_average": os.getloadavg(), "students": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
