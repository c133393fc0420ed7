"""Figures of training runs (matplotlib, Agg backend): PNG and SVG side by side."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .._plotting import pyplot, save_figure
from .training import TrainingRun


def plot_runs(runs: list[TrainingRun], out_dir: str | os.PathLike) -> list[Path]:
    """Write the training figures of one run or of repeats (same settings, several seeds).

    - ``incidence``: incidence of the generator (no dropout) and of the children's models, and the
      mean reward per generation (line: mean over repeats; band: min-max over repeats);
    - ``lambda_max``: distribution of every model's lambda_max at a few generations (symlog axis),
      the shift of the paper's Fig. 2;
    - ``km``: 5-50-95% quantiles of ln Km of the valid models of the final generators, per
      emitted Km that enters a rate law, sorted by median.

    Returns the written paths.
    """
    plt = pyplot()

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    threshold = runs[0].settings.nes.threshold
    written = []
    written += _plot_incidence(plt, runs, out_dir)
    written += _plot_lambda_max(plt, runs[0].lambda_max, threshold, out_dir)
    written += _plot_km(plt, runs, out_dir)
    return written


def _plot_incidence(plt, runs: list[TrainingRun], out_dir: Path) -> list[Path]:
    """``incidence``: generator and children incidence (left) and mean reward (right) per
    generation, mean over runs with a min-max band when there are several."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    panels = ((axes[0], "generator_incidence", "generator (no dropout)", "C0"),
              (axes[0], "children_incidence", "children's models (dropout)", "C1"), (axes[1], "reward_mean", "mean reward", "C0"))
    for ax, column, label, color in panels:
        n = min(len(r.history[column]) for r in runs)
        values = np.array([r.history[column][:n] for r in runs])
        if n == 0 or np.isnan(values).all():
            continue
        generations = np.arange(1, n + 1)
        ax.plot(generations, values.mean(axis=0), color=color, label=label)
        if len(runs) > 1:
            ax.fill_between(generations, values.min(axis=0), values.max(axis=0), color=color, alpha=0.2)
        ax.set_xlabel("generation")
    axes[0].set_ylabel("incidence (valid fraction)")
    axes[0].legend(loc="lower right", title=f"mean and min-max of {len(runs)} runs" if len(runs) > 1 else None)
    axes[1].set_ylabel("mean reward")
    fig.tight_layout()
    return save_figure(fig, out_dir / "incidence")


def _plot_lambda_max(plt, lam: np.ndarray, threshold: float, out_dir: Path) -> list[Path]:
    """``lambda_max``: histograms (symlog axis) of ``lam`` (n_generations, n_models), 1/h, at
    the first, quarter, half and last generation, with the validity ``threshold`` in 1/h."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    picks = sorted({0, len(lam) // 4, len(lam) // 2, len(lam) - 1}) if len(lam) else []
    finite = lam[np.isfinite(lam)]
    if finite.size:
        edges = _symlog_edges(finite)
        for i in picks:
            values = lam[i][np.isfinite(lam[i])]
            ax.hist(values, bins=edges, histtype="step", label=f"generation {i + 1}")
        ax.set_xscale("symlog", linthresh=1.0)
        ax.axvline(threshold, color="k", linestyle="--", linewidth=1, label=f"threshold {threshold:g} 1/h")
        ax.legend(fontsize=8)
    ax.set_xlabel("lambda_max (1/h)")
    ax.set_ylabel("models")
    fig.tight_layout()
    return save_figure(fig, out_dir / "lambda_max")


def _plot_km(plt, runs: list[TrainingRun], out_dir: Path) -> list[Path]:
    """``km``: 5-50-95% quantiles of ln(Km / (mol/L)) of the final valid models of all runs,
    per emitted Km that enters a rate law, sorted by median, with the generator's bounds."""
    fig, ax = plt.subplots(figsize=(10, 3.6))
    valid = np.concatenate([r.final_ln_km[r.final_valid] for r in runs])
    columns = runs[0].free[runs[0].used[runs[0].free]]
    if len(valid):
        q = np.quantile(valid[:, columns], [0.05, 0.5, 0.95], axis=0)
        order = np.argsort(q[1])
        x = np.arange(len(order))
        ax.fill_between(x, q[0][order], q[2][order], color="C0", alpha=0.3, label="5-95%")
        ax.plot(x, q[1][order], color="C0", label="median")
        low, high = runs[0].settings.generator.ln_km_bounds
        ax.axhline(low, color="k", linewidth=0.8)
        ax.axhline(high, color="k", linewidth=0.8)
        ax.legend(loc="upper left")
    ax.set_xlabel(f"Km emitted by the generator, sorted by median ({len(columns)})")
    ax.set_ylabel("ln(Km / (mol/L)) of valid models")
    fig.tight_layout()
    return save_figure(fig, out_dir / "km")


def _symlog_edges(values: np.ndarray, n: int = 60) -> np.ndarray:
    t = np.arcsinh(values)
    return np.sinh(np.linspace(t.min(), t.max() + 1e-9, n))
