"""Run directory state: the NES state after each generation, written atomically (npz, no pickle).

``RUN_DIR/checkpoint.npz`` holds ``theta`` (P,) float32, ``learning_rate``, ``generation`` (the
number of finished generations), ``rng_state`` (the torch generator's bytes), the history
columns (``history/<name>``, one value per generation) and ``lambda_max`` (generations,
C * M): every model's lambda_max. Arrays are read with ``allow_pickle=False``.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .._files import write_npz_atomic
from ..errors import RenaissanceError

CHECKPOINT = "checkpoint.npz"
#: per-generation history. ``children_incidence``: valid fraction of the children's models (with
#: dropout: what NES scores); ``generator_incidence`` / ``generator_lambda_q50``: the updated
#: generator's own fresh models (no dropout: what ``generate`` emits); ``robustness_mean``: the
#: children's mean robustness score (NaN without the robustness term); ``lambda_*``: quantiles of
#: the children's lambda_max (1/h)
HISTORY_COLUMNS = (
    "generation", "children_incidence", "generator_incidence", "generator_lambda_q50", "reward_best", "reward_mean",
    "robustness_mean", "lambda_min", "lambda_q10", "lambda_q50", "lambda_q90", "learning_rate", "evaluated", "seconds",
)
#: columns of checkpoints written before version 0.3: old name -> new name
_RENAMED = {"incidence": "children_incidence"}


@dataclass
class RunState:
    """Everything needed to continue a run bit for bit."""

    theta: torch.Tensor
    learning_rate: float
    generation: int
    rng_state: torch.Tensor
    history: dict[str, list[float]] = field(default_factory=lambda: {c: [] for c in HISTORY_COLUMNS})
    lambda_max: list[np.ndarray] = field(default_factory=list)

    def lambda_array(self) -> np.ndarray:
        """(generations, C * M) float64; (0, 0) before the first generation."""
        if not self.lambda_max:
            return np.zeros((0, 0))
        return np.array(self.lambda_max, dtype=np.float64)


def save_checkpoint(run_dir: str | os.PathLike, state: RunState) -> None:
    arrays = {
        "theta": state.theta.detach().cpu().numpy(),
        "learning_rate": np.float64(state.learning_rate),
        "generation": np.int64(state.generation),
        "rng_state": state.rng_state.cpu().numpy(),
        "lambda_max": state.lambda_array(),
    }
    arrays.update({f"history/{k}": np.asarray(v, dtype=np.float64) for k, v in state.history.items()})
    write_npz_atomic(Path(run_dir) / CHECKPOINT, **arrays)


def load_checkpoint(run_dir: str | os.PathLike, device: str = "cpu") -> RunState:
    path = Path(run_dir) / CHECKPOINT
    try:
        with np.load(path, allow_pickle=False) as data:
            history = _history(data, int(data["generation"]))
            return RunState(
                theta=torch.as_tensor(data["theta"], device=device),
                learning_rate=float(data["learning_rate"]),
                generation=int(data["generation"]),
                rng_state=torch.as_tensor(data["rng_state"]),
                history=history,
                lambda_max=list(data["lambda_max"]),
            )
    except FileNotFoundError:
        raise RenaissanceError(f"{path}: no checkpoint (not a training run directory?)") from None
    except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise RenaissanceError(f"checkpoint {path} is damaged ({_damage(exc)}); start again with --force or "
                               "restore it") from None


def _damage(exc: Exception) -> str:
    """What is wrong with a checkpoint that numpy cannot read, in words."""
    if isinstance(exc, EOFError):
        return "empty file"
    if isinstance(exc, ValueError) and "pickle" in str(exc):
        return "not an npz archive"
    if isinstance(exc, KeyError):
        return f"array {exc} missing"
    return str(exc) or type(exc).__name__


def _history(data, generations: int) -> dict[str, list[float]]:
    """History columns of a checkpoint; columns of older versions renamed, missing ones NaN."""
    stored = {_RENAMED.get(k[len("history/"):], k[len("history/"):]): k for k in data.files if k.startswith("history/")}
    return {c: data[stored[c]].tolist() if c in stored else [float("nan")] * generations for c in HISTORY_COLUMNS}
