"""Keeping the best model of a run: the start counts, an earlier checkpoint beats a worse last step."""

from __future__ import annotations

import json
from pathlib import Path

from sparsedoc.encoder.training.best_model import BestModel


def _saver(label: str):  # noqa: ANN202
    def save(directory: Path) -> Path:
        directory.mkdir(parents=True)
        (directory / "weights").write_text(label)
        return directory
    return save


def _score(value: float) -> dict[str, dict[str, float]]:
    return {"heldout": {"nDCG@10": value}}


def test_the_start_is_kept_when_training_only_made_it_worse(tmp_path: Path) -> None:
    best = BestModel(tmp_path, "heldout")
    assert best.offer(0, _score(0.5), _saver("start"))
    assert not best.offer(10, _score(0.3), _saver("step 10"))
    assert not best.offer(20, _score(0.5), _saver("step 20"))  # a tie keeps the earlier model
    final = _saver("step 20")(tmp_path / "model")
    best.finish(final)
    assert (final / "weights").read_text() == "start"
    assert "kept step 0 (the start scored best)" in best.summary()


def test_a_better_checkpoint_is_kept_and_a_resumed_run_remembers_it(tmp_path: Path) -> None:
    best = BestModel(tmp_path, "heldout")
    best.offer(0, _score(0.2), _saver("start"))
    best.offer(10, _score(0.4), _saver("step 10"))
    resumed = BestModel(tmp_path, "heldout")  # read back from best.json
    assert resumed.has_start
    resumed.offer(20, _score(0.3), _saver("step 20"))
    final = _saver("step 20")(tmp_path / "model")
    resumed.finish(final)
    assert (final / "weights").read_text() == "step 10"
    record = json.loads((tmp_path / "best.json").read_text())
    assert record["kept_step"] == 10 and [e["step"] for e in record["history"]] == [0, 10, 20]


def test_the_last_step_stays_when_it_is_the_best(tmp_path: Path) -> None:
    best = BestModel(tmp_path, "heldout")
    best.offer(0, _score(0.2), _saver("start"))
    best.offer(10, _score(0.6), _saver("step 10"))
    final = _saver("last")(tmp_path / "model")
    best.finish(final)
    assert (final / "weights").read_text() == "last"
