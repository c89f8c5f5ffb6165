"""Keep the best model of a run, judged on one dev set, the untrained start included.

``BestModel`` is offered the dev nDCG@10 at the start (step 0) and at every evaluation. A new best
is saved to ``best-model/`` (a loadable checkpoint); at the end ``finish`` puts the best one in
``model/``, so a run that only made things worse returns its start. ``best.json`` records every
score and which step was kept, and a resumed run reads it back.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any


class BestModel:
    """Tracks the best dev score of a run in ``output`` and keeps that model."""

    def __init__(self, output: Path, dev_name: str, measure: str = "nDCG@10") -> None:
        self.output = Path(output)
        self.dev_name = dev_name
        self.measure = measure
        self.record_path = self.output / "best.json"
        self.record: dict[str, Any] = (json.loads(self.record_path.read_text()) if self.record_path.is_file() else
                                       {"dev_set": dev_name, "measure": measure, "kept_step": None, "history": []})

    @property
    def has_start(self) -> bool:
        """Whether the start (step 0) has been scored."""
        return any(entry["step"] == 0 for entry in self.record["history"])

    def offer(self, step: int, results: dict[str, dict[str, float]], save: Callable[[Path], Path]) -> bool:
        """Record ``step``'s dev results; save the model with ``save(directory)`` if it is the best so far."""
        score = float(results[self.dev_name][self.measure])
        self.record["history"].append({"step": step, "score": score})
        best = self.record.get("best_score")
        improved = best is None or score > best
        if improved:
            partial = self.output / "best-model.partial"
            shutil.rmtree(partial, ignore_errors=True)
            save(partial)
            shutil.rmtree(self.output / "best-model", ignore_errors=True)
            partial.rename(self.output / "best-model")
            self.record.update(kept_step=step, best_score=score)
        self.record_path.write_text(json.dumps(self.record, indent=2))
        return improved

    def finish(self, final: Path) -> Path:
        """Replace ``final`` (the last step's model) by the best one when an earlier step scored higher."""
        last = self.record["history"][-1]["step"] if self.record["history"] else None
        best = self.output / "best-model"
        if best.is_dir() and self.record["kept_step"] != last:
            shutil.rmtree(final, ignore_errors=True)
            shutil.copytree(best, final)
        return final

    def summary(self) -> str:
        """One line: which step was kept, its score and the start's."""
        start = next((e["score"] for e in self.record["history"] if e["step"] == 0), None)
        kept = self.record["kept_step"]
        reason = "the start scored best" if kept == 0 else f"best of {len(self.record['history'])} evaluations"
        start_text = f", start {start:.4f}" if start is not None else ""
        return (f"kept step {kept} ({reason}): {self.dev_name} {self.measure} "
                f"{self.record.get('best_score', float('nan')):.4f}{start_text}")
