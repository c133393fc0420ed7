"""Trajectory figures of the robustness test (matplotlib, Agg): PNG and SVG."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .._plotting import pyplot, save_figure
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
                      settings: RobustnessSettings, out_dir: str | os.PathLike, n_points: int = 200) -> list[Path]:
    """x(t) / x* of ``species`` after the first perturbation of each model (rows of km, vmax;
    ``models`` their population indices, which seed the perturbation as in the study).
    One panel per species, time on a log axis from 1e-6 h to the last check time."""
    plt = pyplot()

    check_plot_species(problem, species)
    index = {s: i for i, s in enumerate(problem.species)}
    st = problem.cm.structure
    n_var = len(st.variables)
    y_star = problem.ln_x[:n_var]
    end = settings.times_min[-1] / 60.0
    times = np.concatenate([[0.0], np.geomspace(1e-6, end, n_points)])
    fig, axes = plt.subplots(1, len(species), figsize=(4 * len(species), 3.4), squeeze=False)
    for row, model in enumerate(models):
        ode = cell_ode(problem.cm, problem.ln_x, np.log(km[row]) + problem.ln_km_shift, vmax[row])
        x0 = perturbations(problem, settings, int(model))[0]
        traj = integrate(ode, np.log(x0), times, settings.integration, reference=y_star)
        for ax, name in zip(axes[0], species):
            ax.plot(np.maximum(times, 1e-6), np.exp(traj.y[:, index[name]] - y_star[index[name]]), linewidth=1,
                    label=f"model {model} ({traj.status})")
    for ax, name in zip(axes[0], species):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.axhspan(1 - settings.tolerance, 1 + settings.tolerance, color="0.85")
        for t in settings.times_min:
            ax.axvline(t / 60.0, color="k", linestyle=":", linewidth=0.8)
        ax.set_title(name)
        ax.set_xlabel("time (h)")
    axes[0][0].set_ylabel("x(t) / x*")
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, Path(out_dir) / "trajectories")
