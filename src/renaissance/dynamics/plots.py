"""Trajectory figures of the robustness test (matplotlib, Agg): PNG and SVG."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .._plotting import pyplot, readable_log_ticks, save_figure, wrapped_title
from ..errors import RenaissanceError
from ..shipped import model_presets
from .integrate import integrate
from .robustness import RobustnessProblem, RobustnessSettings, perturbations
from .system import cell_ode


def default_plot_species(study, n: int = 3) -> list[str]:
    """The species of the model's presets (the paper's figure, for the model it was published
    for) when the model has them all, else the ``n`` species of ``study`` (a
    :class:`~renaissance.dynamics.robustness.StudyResult`) returned in the fewest runs."""
    preset = model_presets(study.problem.cm.model).plot_species
    if preset and set(preset) <= set(study.problem.species):
        return list(preset)
    return [name for name, _ in study.slowest_species(0, n)]


def check_plot_species(problem: RobustnessProblem, species: list[str]) -> None:
    """Raise :class:`RenaissanceError` naming the ``species`` that are not balanced species of the model."""
    unknown = [s for s in species if s not in problem.species]
    if unknown:
        raise RenaissanceError(f"species {unknown}: not balanced species of the model")


def plot_trajectories(problem: RobustnessProblem, km: np.ndarray, vmax: np.ndarray, models, species: list[str],
                      settings: RobustnessSettings, out_dir: str | os.PathLike, n_points: int = 200,
                      n_population: int | None = None, title: str | None = None) -> list[Path]:
    """x(t) / x* of ``species`` after the first perturbation of each model (rows of km, vmax;
    ``models`` their population indices, which seed the perturbation as in the study).
    One panel per species, time on a log axis from 1e-6 h to the last check time; the legend
    (models, return band, check times) right of the panels.

    ``n_population``: the models the shown ones were picked from (the title says "k of N");
    ``title``: the title's first line (e.g. the population and its state; default: the model)."""
    plt = pyplot()

    check_plot_species(problem, species)
    index = {s: i for i, s in enumerate(problem.species)}
    st = problem.cm.structure
    n_var = len(st.variables)
    y_star = problem.ln_x[:n_var]
    end = settings.times_min[-1] / 60.0
    times = np.concatenate([[0.0], np.geomspace(1e-6, end, n_points)])
    fig, axes = plt.subplots(1, len(species), figsize=(3.6 * len(species) + 2.6, 3.9), squeeze=False,
                             layout="constrained")
    for row, model in enumerate(models):
        ode = cell_ode(problem.cm, problem.ln_x, np.log(km[row]) + problem.ln_km_shift, vmax[row])
        x0 = perturbations(problem, settings, int(model))[0]
        traj = integrate(ode, np.log(x0), times, settings.integration, reference=y_star)
        for ax, name in zip(axes[0], species):
            ax.plot(np.maximum(times, 1e-6), np.exp(traj.y[:, index[name]] - y_star[index[name]]), linewidth=1,
                    label=f"model {model} ({traj.status})")
    for ax, name in zip(axes[0], species):
        _trajectory_axes(ax, name, settings)
    axes[0][0].set_ylabel("x(t) / x*")
    fig.legend(handles=_trajectory_legend(axes[0][0], settings), loc="outside right upper", fontsize=7)
    fig.suptitle(trajectory_title(problem, settings, len(models), n_population, title), fontsize=9)
    return save_figure(fig, Path(out_dir) / "trajectories")


def _trajectory_axes(ax, name: str, settings: RobustnessSettings) -> None:
    """Log axes with plain tick labels, the return band and the check times of one species' panel."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.axhspan(1 - settings.tolerance, 1 + settings.tolerance, color="0.85", zorder=0)
    for t in settings.times_min:
        ax.axvline(t / 60.0, color="k", linestyle=":", linewidth=0.8)
    readable_log_ticks(ax.xaxis)
    readable_log_ticks(ax.yaxis)
    ax.set_title(name)
    ax.set_xlabel("time (h)")


def _trajectory_legend(ax, settings: RobustnessSettings) -> list:
    """Legend handles: the models' lines of ``ax``, the grey return band and the dotted check times."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    checks = ", ".join(f"{t:g}" for t in settings.times_min)
    models = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    return [*models, Patch(color="0.85", label=f"returned: |x/x* \N{MINUS SIGN} 1| \N{LESS-THAN OR EQUAL TO} "
                                                f"{100 * settings.tolerance:g}%"),
            Line2D([], [], color="k", linestyle=":", linewidth=0.8, label=f"check times: {checks} min")]


def trajectory_title(problem: RobustnessProblem, settings: RobustnessSettings, shown: int,
                     n_population: int | None = None, title: str | None = None) -> str:
    """Title of the trajectory figure: ``title`` (default: the model), then what is shown and of how many."""
    of = f" of {n_population}" if n_population is not None else ""
    noun = "model" if shown == 1 and not of else "models"
    what = (f"{shown}{of} {noun}: x(t) / x* after a \N{PLUS-MINUS SIGN}{100 * settings.perturbation:g}% "
            "perturbation of every balanced species (the first of each model)")
    return wrapped_title(title or f"model {problem.cm.model.name}", what, width=120)
