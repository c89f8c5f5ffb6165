"""Training checkpoints: the whole state saved every few steps and on Ctrl-C, and resumed from.

``checkpoints/step-NNNNNNN/state.pt`` holds the model, optimizer, scheduler, IDF parameter and the
python/numpy/torch RNG states, so a resumed run continues exactly where it stopped (the last
``keep`` checkpoints are kept). ``StopRequest`` turns Ctrl-C into a flag the training loop checks
between steps.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from types import FrameType

    import torch
    from transformers import PreTrainedModel

    from .idf_scoring import TrainableIdf


class StopRequest:
    """Turns Ctrl-C (SIGINT) into a flag the loop checks between steps, so a checkpoint is never half a step."""

    def __init__(self) -> None:
        import signal
        import threading

        self.requested = False
        self._previous = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._request)

    def _request(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True

    def restore(self) -> None:
        import signal

        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def save_checkpoint(directory: Path, step: int, model: PreTrainedModel, optimizer: torch.optim.Optimizer,
                    scheduler: torch.optim.lr_scheduler.LRScheduler, idf: TrainableIdf, keep: int = 2) -> Path:
    """Write the state at ``step`` under ``directory`` (whole or not at all); keep the last ``keep``; return it."""
    import torch

    target = directory / f"step-{step:07d}"
    partial = directory / f".step-{step:07d}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    torch.save({
        "step": step,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "idf": idf.parameter.detach().clone(),
        "rng": {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()},
    }, partial / "state.pt")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    for old in sorted(directory.glob("step-*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def resume_checkpoint(directory: Path, model: PreTrainedModel, optimizer: torch.optim.Optimizer,
                      scheduler: torch.optim.lr_scheduler.LRScheduler, idf: TrainableIdf) -> int:
    """Load the newest checkpoint under ``directory`` into the objects given; return its step (0: none)."""
    import torch

    found = sorted(directory.glob("step-*/state.pt"))
    if not found:
        return 0
    state = torch.load(found[-1], map_location="cpu", weights_only=False)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    with torch.no_grad():
        idf.parameter.copy_(state["idf"])
    random.setstate(state["rng"]["python"])
    np.random.set_state(state["rng"]["numpy"])
    torch.set_rng_state(state["rng"]["torch"])
    return int(state["step"])
