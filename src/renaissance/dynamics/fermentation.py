"""A population's batch fermentation: every model in the bioreactor, scored against a measured
culture, and what ends growth in the best ones.

:func:`fermentation_study` chains :mod:`.bioreactor` (the reactor and its runs), :mod:`.measured`
(the fit to an experiment) and :mod:`.limitation` (which nutrient stops growth) for the models of
one :class:`~renaissance.parameterised.model.ParameterisedModel`; ``renaissance bioreactor`` only
parses its options, calls it and prints the returned lines.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..errors import RenaissanceError
from ..parameterised.model import ParameterisedModel
from ..shipped import model_presets
from ..steadystate import state_arrays
from .bioreactor import (
    ReactorContext,
    ReactorRun,
    bioreactor_study,
    culture_summary,
    dynamic_species,
    plot_reactor,
    read_medium,
    read_report,
)
from .limitation import LIMITATION_TABLE, Limitation, limitation_study
from .measured import (
    FIT_TABLE,
    Experiment,
    ModelFit,
    fit_summary,
    plot_fit,
    read_experiment,
    score_runs,
    write_fit_table,
)

#: what ``renaissance bioreactor`` writes into its --out folder (the table, its settings and
#: inputs, the figures, the fit and the limitation tables)
OUTPUTS = ("timecourses.csv", "timecourses.*.json", "bioreactor.png", "bioreactor.svg", FIT_TABLE, "fit.png",
           "fit.svg", LIMITATION_TABLE)


@dataclass(frozen=True, kw_only=True)
class FermentationOptions:
    """What to simulate and compare (the options of ``renaissance bioreactor``).

    ``medium``: medium/reactor YAML (None: the model's shipped set-up); ``measured``: experiment
    file, None for the model's shipped one, ``"none"`` for no comparison; ``initial``:
    ``steady_state`` or ``initial_medium`` (None: the medium file's); ``keep``: best-ranked models
    listed; ``explain``: best-ranked models whose growth limitation is studied.
    """

    medium: str | os.PathLike | None = None
    hours: float = 60.0
    points: int = 121
    measured: str | None = None
    match_tolerance: float = 0.15
    keep: int = 13
    initial: str | None = None
    explain: int = 0


@dataclass
class FermentationReport:
    """What a fermentation study found; ``lines`` are its printed summary, ``files`` what it wrote."""

    runs: list[ReactorRun]
    fits: list[ModelFit] | None = None
    limitations: list[Limitation] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


def medium_file(model: ParameterisedModel, given: str | os.PathLike | None) -> str | os.PathLike:
    """``given``, else the model's shipped bioreactor set-up; none is an error naming the model."""
    found = given or model_presets(model.cm.model).medium
    if found is None:
        raise RenaissanceError(f"{model.settings.model if model.settings else model.cm.model.name}: no bioreactor "
                               "set-up for this model; give --medium M.yaml (renaissance init MODEL --out DIR writes "
                               "a starter medium)")
    return found


def _experiment(model: ParameterisedModel, options: FermentationOptions, simulated: list[str],
                lines: list[str]) -> Experiment | None:
    """The measured fermentation to compare with (None: none, or the run is shorter than the
    shipped experiment: said in ``lines``)."""
    path = model_presets(model.cm.model).experiment if options.measured is None else options.measured
    if path is None or str(path).lower() == "none":
        return None
    experiment = read_experiment(path, model.cm.species, simulated)
    if options.measured is None and options.hours < experiment.t_end:
        lines.append(f"not compared with the measured fermentation ({experiment.source}: 0-{experiment.t_end:g} h): "
                     f"--hours {options.hours:g} is shorter; pass --measured FILE to compare the first "
                     f"{options.hours:g} h")
        return None
    return experiment


#: a run "grew" when its final biomass is at least this multiple of the inoculum
GROWN_FOLD = 2.0


def run_counts(runs: list[ReactorRun], hours: float) -> str:
    """One line: how many runs were integrated to the end, how many of those grew (final biomass
    >= :data:`GROWN_FOLD` x the inoculum), and the statuses of the others."""
    done = [r for r in runs if r.status == "ok"]
    grew = sum(r.biomass[-1] >= GROWN_FOLD * r.biomass[0] for r in done)
    others = Counter(r.status for r in runs if r.status != "ok")
    line = (f"{len(runs)} models: {len(done)} integrated to {hours:g} h ({grew} grew at least {GROWN_FOLD:g}-fold, "
            f"{len(done) - grew} did not)")
    return line + "".join(f", {n} {status}" for status, n in others.most_common())


def fermentation_study(model: ParameterisedModel, km: np.ndarray, vmax: np.ndarray, models: np.ndarray,
                       out_dir: str | os.PathLike, options: FermentationOptions = FermentationOptions(), *,
                       resume: bool = False, n_workers: int | None = None,
                       on_start: Callable[[int], None] | None = None,
                       on_model: Callable[[object], None] | None = None) -> FermentationReport:
    """Simulate the models ``models`` (their ``km`` (N, n_km) mol/L and ``vmax`` (N, n_rxn) rows) in
    the batch reactor, compare them with the measured fermentation, and explain the best.

    Writes ``timecourses.csv`` and ``bioreactor.png`` to ``out_dir``; with an experiment
    ``fit.csv`` and ``fit.png``; with ``options.explain`` ``limitation.csv``. ``on_start(n)`` is
    called before the runs, ``on_model`` after each (progress).
    """
    out = Path(out_dir)
    cm, units = model.cm, model.units
    path = medium_file(model, options.medium)
    settings = replace(read_medium(path, cm, model.growth_reaction, options.initial), hours=options.hours)
    report = read_report(path, cm, settings)
    lines = [settings.describe_start(str(path))]
    simulated = [cm.structure.boundary[i] for i in dynamic_species(cm, settings)]
    experiment = _experiment(model, options, simulated, lines)
    context = ReactorContext(cm, state_arrays(cm, model.state, units).ln_x, settings, units,
                             np.linspace(0.0, options.hours, options.points))
    if on_start is not None:
        on_start(len(models))
    runs = bioreactor_study(context, km, vmax, out, models=models, resume=resume, n_workers=n_workers,
                            on_model=on_model, files=model.files.digests())
    result = FermentationReport(runs, lines=lines)
    lines.append(run_counts(runs, options.hours))
    summary = culture_summary(runs, report, settings.medium, options.hours)
    if summary:
        lines.append(summary)
    matching = []
    if experiment is not None:
        result.fits = score_runs(runs, experiment, options.match_tolerance)
        write_fit_table(result.fits, experiment, out / FIT_TABLE)
        matching = [f.model for f in result.fits if f.matches_all]
        lines.append(fit_summary(result.fits, experiment, options.hours))
        ranked = [f for f in result.fits[:options.keep] if f.ok and np.isfinite(f.worst)]
        if ranked:
            lines.append(f"best {len(ranked)} (model: worst series error): "
                         + ", ".join(f"{f.model}: {100 * f.worst:.3g}%" for f in ranked))
        result.files += [out / FIT_TABLE, *plot_fit(runs, result.fits, experiment, out, closest=options.keep)]
    title = f"{len(runs)} models of {model.cm.model.name or 'the model'} at {model.state_name}, {options.hours:g} h"
    result.files = [out / "timecourses.csv", *plot_reactor(runs, out, matching, report, title=title), *result.files]
    if options.explain:
        best = ([f.model for f in result.fits if f.ok] if result.fits is not None
                else [r.model for r in runs if r.status == "ok"])[:options.explain]
        rows = [int(np.flatnonzero(models == m)[0]) for m in best]
        result.limitations = limitation_study(context, best, km[rows], vmax[rows], out / LIMITATION_TABLE,
                                              n_workers=n_workers)
        lines += [item.describe() for item in result.limitations]
        result.files.append(out / LIMITATION_TABLE)
    return result
