"""Figures of training runs (matplotlib, Agg backend): PNG and SVG side by side."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .._plotting import plain_number, pyplot, readable_symlog_ticks, save_figure, wrapped_title
from .training import TrainingRun


def plot_runs(runs: list[TrainingRun], out_dir: str | os.PathLike, title: str | None = None) -> list[Path]:
    """Write the training figures of one run or of repeats (same settings, several seeds).

    - ``incidence``: incidence of the generator (no dropout) and of the children's models, and the
      mean reward per generation (line: mean over repeats; band: min-max over repeats);
    - ``lambda_max``: distribution of the lambda_max of the children's models (the NES
      population's Km sets, dropout on) at a few generations of the first run (symlog axis),
      the shift of the paper's Fig. 2;
    - ``km``: 5-50-95% quantiles of ln Km of the valid models of the final generators, per
      emitted Km that enters a rate law, sorted by median.

    ``title``: the first title line of every figure (e.g. the run directory and the state);
    default :func:`run_heading`. Returns the written paths.
    """
    plt = pyplot()

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    threshold = runs[0].settings.nes.threshold
    heading = title or run_heading(runs)
    written = []
    written += _plot_incidence(plt, runs, out_dir, heading)
    written += _plot_lambda_max(plt, runs[0], threshold, out_dir, title or run_heading(runs[:1]))
    written += _plot_km(plt, runs, out_dir, heading)
    return written


def state_name(run: TrainingRun) -> str:
    """The run's steady state, short: the CSV's file name or ``<states file> state <i>``."""
    problem = run.settings.problem
    if problem.steady_state is not None:
        return Path(problem.steady_state).name
    return f"{Path(problem.states).name} state {problem.state_index}"


def run_heading(runs: list[TrainingRun]) -> str:
    """One line naming the model, the state and the run(s): preset, seed(s), generations."""
    settings = runs[0].settings
    seeds = sorted(r.settings.seed for r in runs)
    seed = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {', '.join(map(str, seeds))} ({len(seeds)} runs)"
    generations = len(runs[0].lambda_max)
    return (f"{Path(settings.problem.model).stem} at {state_name(runs[0])}: {settings.preset} preset, {seed}, "
            f"{generations} generations")


def children_description(run: TrainingRun) -> list[str]:
    """Whose models the ``lambda_max`` history holds: the NES children's (dropout on), not the
    generator's fresh models; two title lines."""
    nes, dropout = run.settings.nes, run.settings.generator.dropout
    mode = f"dropout {dropout:g}" if dropout > 0 else "no dropout"
    return [f"lambda_max of the children's models during training ({mode}), not the generator's own",
            f"{nes.population} children x {nes.models_per_child} models per generation"]


def _plot_incidence(plt, runs: list[TrainingRun], out_dir: Path, heading: str) -> list[Path]:
    """``incidence``: generator and children incidence (left) and mean reward (right) per
    generation, mean over runs with a min-max band when there are several."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.9))
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
    fig.suptitle(wrapped_title(heading, "incidence and reward per generation", width=110), fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out_dir / "incidence")


def _plot_lambda_max(plt, run: TrainingRun, threshold: float, out_dir: Path, heading: str) -> list[Path]:
    """``lambda_max``: histograms (symlog axis, plain tick labels) of the children's models'
    lambda_max (n_generations, n_models), 1/h, at the first, quarter, half and last generation,
    with the validity ``threshold`` in 1/h."""
    lam = run.lambda_max
    fig, ax = plt.subplots(figsize=(7, 4.2))
    picks = sorted({0, len(lam) // 4, len(lam) // 2, len(lam) - 1}) if len(lam) else []
    finite = lam[np.isfinite(lam)]
    if finite.size:
        edges = _symlog_edges(finite)
        for i in picks:
            values = lam[i][np.isfinite(lam[i])]
            ax.hist(values, bins=edges, histtype="step", label=f"generation {i + 1}")
        ax.set_xscale("symlog", linthresh=1.0)
        readable_symlog_ticks(ax.xaxis)
        ax.axvline(threshold, color="k", linestyle="--", linewidth=1, label=f"threshold {plain_number(threshold)} 1/h")
        ax.legend(fontsize=8)
    ax.set_xlabel("lambda_max (1/h), symlog axis: linear within ±1")
    ax.set_ylabel("models")
    ax.set_title(wrapped_title(heading, *children_description(run), width=90), fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out_dir / "lambda_max")


def km_count_note(run: TrainingRun) -> str:
    """Which Km the ``km`` figure shows and why not all: '<n> of the model's <N> Km: ...'."""
    n_km, free = len(run.used), run.free
    shown = int(run.used[free].sum())
    unused, fixed = len(free) - shown, n_km - len(free)
    left_out = [f"{unused} emitted Km enter no rate law"] if unused else []
    left_out += [f"{fixed} are fixed (not emitted)"] if fixed else []
    because = f" ({'; '.join(left_out)})" if left_out else ""
    return f"{shown} of the model's {n_km} Km: those the generator emits that enter a rate law{because}"


def _plot_km(plt, runs: list[TrainingRun], out_dir: Path, heading: str) -> list[Path]:
    """``km``: 5-50-95% quantiles of ln(Km / (mol/L)) of the final valid models of all runs,
    per emitted Km that enters a rate law, sorted by median, with the generator's bounds (labelled
    in mol/L)."""
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(10, 4.2))
    valid = np.concatenate([r.final_ln_km[r.final_valid] for r in runs])
    columns = runs[0].free[runs[0].used[runs[0].free]]
    low, high = runs[0].settings.generator.ln_km_bounds
    ax.axhline(high, color="k", linestyle="--", linewidth=0.8, label=f"upper Km bound {_molar(high)} mol/L")
    ax.axhline(low, color="k", linestyle=":", linewidth=0.8, label=f"lower Km bound {_molar(low)} mol/L")
    if len(valid):
        q = np.quantile(valid[:, columns], [0.05, 0.5, 0.95], axis=0)
        order = np.argsort(q[1])
        x = np.arange(len(order))
        ax.fill_between(x, q[0][order], q[2][order], color="C0", alpha=0.3, label="5-95% of valid models")
        ax.plot(x, q[1][order], color="C0", label="median")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    ax.set_xlabel(f"Km emitted by the generator that enter a rate law, sorted by median ({len(columns)})")
    ax.set_ylabel("ln(Km / (mol/L))")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(wrapped_title(heading, f"ln Km of the {len(valid)} valid models of the final generator(s)",
                               km_count_note(runs[0]), width=130), fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out_dir / "km")


def _molar(ln_value: float) -> str:
    """exp(``ln_value``) to two significant digits, as a plain tick-style number."""
    return plain_number(float(f"{np.exp(ln_value):.2g}"))


def _symlog_edges(values: np.ndarray, n: int = 60) -> np.ndarray:
    """``n`` histogram edges evenly spaced in arcsinh (about symlog) over ``values``."""
    t = np.arcsinh(values)
    return np.sinh(np.linspace(t.min(), t.max() + 1e-9, n))
