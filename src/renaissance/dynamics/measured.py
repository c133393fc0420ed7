"""Measured fermentations: read them, score simulated bioreactor runs against them, plot both.

An experiment is a YAML description of a CSV of time courses (the shipped
``ecoli_trpD9923_batch.yaml`` is the layout; any model can have one)::

    data: fermentation.csv          # the CSV, relative to this file
    source: who measured it          # free text (optional)
    time: time_h                     # column of the measurement times in h (default time_h)
    published_matches: 13            # models a publication reports as matching (optional)
    series:
      biomass:  {column: biomass_g_per_L, unit: g/L}              # no species: the biomass (g/L dry weight)
      sugar:    {column: sugar, unit: g/L, species: sugar_e, molar_mass: 180.156,
                 low: sugar_low, high: sugar_high, label: glucose}  # error bars (optional)

``unit`` is ``g/L`` (default) or ``mol/L``; a species measured in g/L needs its ``molar_mass``
(g/mol), by which the simulated mol/L are converted. An empty cell is a missing value; a point
whose error bar has ``low < high`` counts for the within-error-bar fraction (``low == high`` or a
missing end: no error bar). A plain CSV (``.csv``) is read as ``time_h`` plus ``biomass`` (g/L)
and/or medium species ids (mol/L), each with optional ``<column>_low`` / ``<column>_high``.

Scoring (:func:`score_runs`): for each series, the run's time course at the measured times
(linear interpolation; only the measured times within the simulated span count), the RMS error
relative to the series' largest measured value,

    e = sqrt(mean_i (s(t_i) - m_i)^2) / max_i m_i,

and the fraction of points with an error bar whose simulated value lies inside it. A run matches a
series when e <= tolerance and the experiment when it matches every series; a run whose status is
not ``ok`` matches nothing. Runs are ranked by their worst (largest) series error.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .._files import read_text, write_text_atomic
from .._plotting import pyplot, save_figure
from ..errors import MeasurementError, ModelFormatError, SettingsError, located

if TYPE_CHECKING:  # pragma: no cover
    from .bioreactor import ReactorRun

UNITS = ("g/L", "mol/L")
DEFAULT_TOLERANCE = 0.15
FIT_TABLE = "fit.csv"
_TOP_KEYS = {"data", "source", "time", "published_matches", "series", "description"}
_SERIES_KEYS = {"column", "unit", "species", "molar_mass", "low", "high", "label"}


@dataclass(frozen=True)
class Series:
    """One measured time course: ``t`` (h), ``value``, ``low``, ``high`` (n,) in ``unit`` (NaN: missing).

    ``species`` None: the biomass (g/L dry weight); else a medium species, simulated in mol/L and
    converted with ``molar_mass`` (g/mol) when ``unit`` is g/L."""

    name: str
    label: str
    column: str
    unit: str
    species: str | None
    molar_mass: float | None
    t: np.ndarray
    value: np.ndarray
    low: np.ndarray
    high: np.ndarray

    @property
    def has_bar(self) -> np.ndarray:
        """(n,) bool: the point has an error bar (both ends given and low < high)."""
        with np.errstate(invalid="ignore"):
            return np.isfinite(self.low) & np.isfinite(self.high) & (self.low < self.high)

    @property
    def scale(self) -> float:
        """The largest measured value: the denominator of the relative error."""
        return float(np.max(self.value))


@dataclass(frozen=True)
class Experiment:
    """A measured fermentation: its description file (``source``), CSV (``data``) and series."""

    source: str
    data: str
    citation: str
    series: tuple[Series, ...]
    published_matches: int | None = None

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.series]

    @property
    def t_end(self) -> float:
        return max(float(s.t.max()) for s in self.series)


# --- reading ---------------------------------------------------------------------------------


def read_experiment(path: str | os.PathLike, model_species: Iterable[str] | None = None,
                    simulated: Iterable[str] | None = None) -> Experiment:
    """The experiment of a YAML description (see the module docstring) or of a plain CSV (``.csv``).

    With ``model_species`` (all species of the model) and ``simulated`` (the reactor's dynamic
    species), every series' species is checked against them (:func:`check_species`). Any problem
    is one :class:`.MeasurementError` naming the file, the series and the problem."""
    source = str(path)
    if Path(path).suffix.lower() == ".csv":
        experiment = _plain_csv(source)
    else:
        experiment = _described(source)
    if model_species is not None:
        check_species(experiment, model_species, simulated if simulated is not None else model_species)
    return experiment


def check_species(experiment: Experiment, model_species: Iterable[str], simulated: Iterable[str]) -> None:
    """Each series' species must be a species of the model and one the reactor simulates."""
    model_species, simulated = set(model_species), list(simulated)
    for s in experiment.series:
        if s.species is None:
            continue
        if s.species not in model_species:
            raise MeasurementError(located(experiment.source, f"series '{s.name}'",
                                           f"species '{s.species}' is not in the model"))
        if s.species not in simulated:
            raise MeasurementError(located(experiment.source, f"series '{s.name}'", (
                f"species '{s.species}' is not simulated by the reactor (held constant or not extracellular); "
                f"simulated: {sorted(simulated)[:12]}")))


def _described(source: str) -> Experiment:
    from ..model.io import read_yaml

    try:
        data = read_yaml(source)
    except ModelFormatError as exc:
        raise MeasurementError(str(exc)) from None
    if not isinstance(data, dict):
        raise MeasurementError(located(source, "file", "must be a mapping with data: and series:"))
    unknown = sorted(str(k) for k in set(data) - _TOP_KEYS)
    if unknown:
        raise MeasurementError(located(source, f"keys {unknown}", f"unknown (known: {sorted(_TOP_KEYS)})"))
    if not isinstance(data.get("data"), str) or not data["data"].strip():
        raise MeasurementError(located(source, "data", "missing: the CSV of the time courses, relative to this file"))
    series_spec = data.get("series")
    if not isinstance(series_spec, dict) or not series_spec:
        raise MeasurementError(located(source, "series", "missing: name -> {column: ..., unit: ..., species: ...}"))
    published = data.get("published_matches")
    if published is not None and (isinstance(published, bool) or not isinstance(published, int) or published < 0):
        raise MeasurementError(located(source, "published_matches", f"{published!r}: must be an integer >= 0"))
    csv_path = Path(source).parent / data["data"]
    time_column = str(data.get("time", "time_h"))
    t, table = _read_table(str(csv_path), time_column)
    series = tuple(_series(source, str(csv_path), str(name), spec, t, table) for name, spec in series_spec.items())
    return Experiment(source, str(csv_path), str(data.get("source") or ""), series, published)


def _series(source: str, csv_source: str, name: str, spec, t: np.ndarray, table: dict[str, np.ndarray]) -> Series:
    where = f"series '{name}'"
    if not isinstance(spec, dict):
        raise MeasurementError(located(source, where, "must be a mapping {column: ..., unit: ...}"))
    unknown = sorted(str(k) for k in set(spec) - _SERIES_KEYS)
    if unknown:
        raise MeasurementError(located(source, where, f"unknown keys {unknown} (known: {sorted(_SERIES_KEYS)})"))
    unit = str(spec.get("unit", "g/L"))
    if unit not in UNITS:
        raise MeasurementError(located(source, where, f"unit '{unit}': must be one of {list(UNITS)}"))
    species = spec.get("species")
    species = None if species is None else str(species)
    molar_mass = spec.get("molar_mass")
    if molar_mass is not None:
        try:  # YAML 1.1 reads 1.8e2 as text
            number = math.nan if isinstance(molar_mass, bool) else float(molar_mass)
        except (TypeError, ValueError):
            number = math.nan
        if not (math.isfinite(number) and number > 0):
            raise MeasurementError(located(source, where, f"molar_mass {molar_mass!r}: must be a number > 0 (g/mol)"))
        molar_mass = number
    if species is None:
        if unit != "g/L" or molar_mass is not None:
            raise MeasurementError(located(source, where, "a series without species is the biomass: unit g/L "
                                           "(dry weight), no molar_mass"))
    elif unit == "g/L" and molar_mass is None:
        raise MeasurementError(located(source, where, f"species '{species}' in g/L needs its molar_mass (g/mol) "
                                       "to convert the simulated mol/L"))
    elif unit == "mol/L" and molar_mass is not None:
        raise MeasurementError(located(source, where, "molar_mass applies to g/L only (unit is mol/L)"))
    columns = {key: spec.get(key) for key in ("column", "low", "high")}
    if not isinstance(columns["column"], str):
        raise MeasurementError(located(source, where, "column: missing (the CSV column of its values)"))
    for key, column in columns.items():
        if column is not None and str(column) not in table:
            raise MeasurementError(located(source, where, f"{key} column '{column}' is not in {csv_source} "
                                           f"(columns: {list(table)})"))
    if (columns["low"] is None) != (columns["high"] is None):
        raise MeasurementError(located(source, where, "error bars need both low and high columns"))
    return _make_series(csv_source, name, str(spec.get("label", name)), columns["column"], unit, species, molar_mass,
                        t, table, columns["low"], columns["high"])


def _plain_csv(source: str) -> Experiment:
    t, table = _read_table(source, "time_h")
    names = [c for c in table if c != "time_h" and not c.endswith(("_low", "_high"))]
    if not names:
        raise MeasurementError(located(source, "header", "needs time_h and at least one series (biomass in g/L "
                                       "and/or medium species ids in mol/L)"))
    series = []
    for name in names:
        low, high = f"{name}_low", f"{name}_high"
        bars = (low, high) if low in table and high in table else (None, None)
        if name == "biomass":
            series.append(_make_series(source, name, name, name, "g/L", None, None, t, table, *bars))
        else:
            series.append(_make_series(source, name, name, name, "mol/L", name, None, t, table, *bars))
    return Experiment(source, source, "", tuple(series))


def _read_table(source: str, time_column: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The times (n,) and {column: (n,) float} of a CSV, NaN where a cell is empty; every time must be given."""
    text = read_text(source, MeasurementError)
    numbered = [(line, r) for line, r in enumerate(csv.reader(io.StringIO(text)), start=1)
                if any(cell.strip() for cell in r)]
    if not numbered:
        raise MeasurementError(located(source, "file", "empty"))
    lines, rows = zip(*numbered)
    header = [c.strip() for c in rows[0]]
    if time_column not in header:
        raise MeasurementError(located(source, "header", f"no time column '{time_column}' (columns: {header})"))
    if len(set(header)) != len(header):
        raise MeasurementError(located(source, "header", "repeats a column name"))
    if len(rows) < 2:
        raise MeasurementError(located(source, "file", "no data rows"))
    values = np.full((len(rows) - 1, len(header)), np.nan)
    for i, (line, row) in enumerate(zip(lines[1:], rows[1:])):
        if len(row) != len(header):
            raise MeasurementError(located(source, f"line {line}", f"{len(row)} cells, the header has {len(header)}"))
        for j, cell in enumerate(row):
            cell = cell.strip()
            if not cell:
                continue
            try:
                number = float(cell)
            except ValueError:
                raise MeasurementError(located(source, f"line {line}, column '{header[j]}'",
                                               f"{cell!r} is not a number")) from None
            if not math.isfinite(number) or number < 0:
                raise MeasurementError(located(source, f"line {line}, column '{header[j]}'",
                                               f"{cell}: must be a finite number >= 0"))
            values[i, j] = number
    table = dict(zip(header, values.T))
    missing = np.flatnonzero(np.isnan(table[time_column]))
    if missing.size:
        raise MeasurementError(located(source, f"column '{time_column}'",
                                       f"empty on line(s) {[lines[int(i) + 1] for i in missing]}"))
    return table[time_column], table


def _make_series(source: str, name: str, label: str, column: str, unit: str, species: str | None,
                 molar_mass: float | None, t: np.ndarray, table: dict[str, np.ndarray], low: str | None,
                 high: str | None) -> Series:
    """The points of ``column`` that have a value (their bars NaN when the series has none)."""
    where = f"series '{name}' (column '{column}')"
    value = table[column]
    keep = np.isfinite(value)
    if not keep.any():
        raise MeasurementError(located(source, where, "no values"))
    n = int(keep.sum())
    lo = table[low][keep] if low is not None else np.full(n, np.nan)
    hi = table[high][keep] if high is not None else np.full(n, np.nan)
    t, value = t[keep], value[keep]
    if not np.max(value) > 0:
        raise MeasurementError(located(source, where, "every value is 0: the relative error needs a positive maximum"))
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero((lo > value) | (hi < value))
    if bad.size:
        i = int(bad[0])
        raise MeasurementError(located(source, where, f"at {t[i]:g} h the error bar [{lo[i]:g}, {hi[i]:g}] does not "
                                       f"contain the value {value[i]:g} ({bad.size} point(s); columns swapped?)"))
    return Series(name, label, column, unit, species, molar_mass, t, value, lo, hi)


# --- scoring (pure functions over arrays) ------------------------------------------------------


def simulated_course(run: ReactorRun, series: Series) -> np.ndarray:
    """(n_t,) the run's time course of what ``series`` measures, in the series' unit (a species'
    mol/L times its molar mass when the series is in g/L)."""
    if series.species is None:
        return np.asarray(run.biomass, dtype=float)
    if series.species not in run.medium:
        raise MeasurementError(f"series '{series.name}': species '{series.species}' not simulated "
                               f"(reactor species: {sorted(run.medium)[:12]})")
    values = np.asarray(run.medium[series.species], dtype=float)
    return values * series.molar_mass if series.molar_mass is not None else values


def relative_rms(simulated: np.ndarray, measured: np.ndarray) -> float:
    """sqrt(mean (s - m)^2) / max m over the points (n,) of one series."""
    return float(np.sqrt(np.mean((np.asarray(simulated) - measured) ** 2)) / np.max(measured))


def within_bars(simulated: np.ndarray, low: np.ndarray, high: np.ndarray) -> tuple[float, int]:
    """The fraction of points with an error bar (low < high) whose simulated value lies in
    [low, high], and the number of such points; (nan, 0) when none has one."""
    with np.errstate(invalid="ignore"):
        bar = np.isfinite(low) & np.isfinite(high) & (low < high)
        n = int(bar.sum())
        if n == 0:
            return math.nan, 0
        inside = (simulated[bar] >= low[bar]) & (simulated[bar] <= high[bar])
    return float(inside.mean()), n


def in_span(series: Series, t: np.ndarray) -> np.ndarray:
    """(n,) bool: the measured times within the simulated span [t[0], t[-1]] (1e-9 relative slack)."""
    slack = 1e-9 * max(1.0, abs(float(t[-1])))
    return (series.t >= t[0] - slack) & (series.t <= t[-1] + slack)


@dataclass(frozen=True)
class SeriesScore:
    """One run against one series: ``rel_rms`` (nan: not scored: the run failed or no measured time
    lies in its span), ``within`` (fraction within the error bars; nan: no bars), the numbers of
    points scored and of points with a bar, and the simulated values at the scored times."""

    rel_rms: float
    within: float
    n_points: int
    n_bars: int
    simulated: np.ndarray


@dataclass(frozen=True)
class ModelFit:
    """One run against an experiment (:func:`score_run`)."""

    model: int
    status: str
    message: str
    scores: dict[str, SeriesScore]
    tolerance: float

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def matches(self, name: str) -> bool:
        """The run ended ``ok`` and its error on series ``name`` is at most the tolerance."""
        return self.ok and bool(self.scores[name].rel_rms <= self.tolerance)

    @property
    def matches_all(self) -> bool:
        return all(self.matches(name) for name in self.scores)

    @property
    def worst(self) -> float:
        """The largest series error (inf: not ok, or a series not scored): the ranking key."""
        errors = [s.rel_rms for s in self.scores.values()]
        return max(errors) if self.ok and errors and np.all(np.isfinite(errors)) else math.inf

    @property
    def worst_series(self) -> str:
        return max(self.scores, key=lambda n: self.scores[n].rel_rms) if math.isfinite(self.worst) else ""


def score_run(run: ReactorRun, experiment: Experiment, tolerance: float = DEFAULT_TOLERANCE) -> ModelFit:
    """Score one run against every series of ``experiment`` (module docstring); a run whose status
    is not ``ok`` gets no scores (nan) and matches nothing."""
    scores = {}
    t = np.asarray(run.t, dtype=float)
    for series in experiment.series:
        course = simulated_course(run, series)
        keep = in_span(series, t)
        if run.status != "ok" or not keep.any():
            scores[series.name] = SeriesScore(math.nan, math.nan, 0, 0, np.full(int(keep.sum()), np.nan))
            continue
        simulated = np.interp(series.t[keep], t, course)
        within, n_bars = within_bars(simulated, series.low[keep], series.high[keep])
        error = relative_rms(simulated, series.value[keep])
        scores[series.name] = SeriesScore(error if math.isfinite(error) else math.inf, within, int(keep.sum()),
                                          n_bars, simulated)
    return ModelFit(int(run.model), run.status, run.message, scores, float(tolerance))


def score_runs(runs: Iterable[ReactorRun], experiment: Experiment,
               tolerance: float = DEFAULT_TOLERANCE) -> list[ModelFit]:
    """Every run scored (:func:`score_run`), best first: by the worst series error, then model index
    (runs that are not ``ok`` last)."""
    if not (isinstance(tolerance, (int, float)) and math.isfinite(tolerance) and tolerance >= 0):
        raise SettingsError(f"tolerance == {tolerance!r}, must be a finite number >= 0")
    return sorted((score_run(r, experiment, tolerance) for r in runs), key=lambda f: (f.worst, f.model))


def coverage(experiment: Experiment, t_end: float) -> tuple[int, int]:
    """(measured points within [0, t_end], all measured points) over every series."""
    span = np.array([0.0, t_end])
    return (sum(int(in_span(s, span).sum()) for s in experiment.series), sum(len(s.t) for s in experiment.series))


def write_fit_table(fits: list[ModelFit], experiment: Experiment, path: str | os.PathLike) -> None:
    """``fit.csv`` (atomic): ``rank,model,status,worst_rel_rms``, ``<series>_rel_rms`` and
    ``<series>_within_bars`` per series, ``matches_all`` (true/false); empty cells: not scored /
    no error bars; in the order of ``fits`` (the ranking)."""
    names = experiment.names
    header = ["rank", "model", "status", "worst_rel_rms", *(f"{n}_rel_rms" for n in names),
              *(f"{n}_within_bars" for n in names), "matches_all"]

    def number(x: float) -> str:
        return repr(float(x)) if math.isfinite(x) else ""

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for rank, fit in enumerate(fits, start=1):
        writer.writerow([rank, fit.model, fit.status, number(fit.worst),
                         *(number(fit.scores[n].rel_rms) for n in names),
                         *(number(fit.scores[n].within) for n in names), "true" if fit.matches_all else "false"])
    write_text_atomic(path, buffer.getvalue())


def fit_summary(fits: list[ModelFit], experiment: Experiment, t_end: float | None = None) -> str:
    """One line: how many runs match every series (beside the published number), the best run and
    its worst series error, the runs that are not ok, and the measured points compared when the
    runs cover only part of the experiment."""
    if not fits:
        return "no runs to compare with the measured fermentation"
    tolerance = fits[0].tolerance
    n_match = sum(f.matches_all for f in fits)
    k = len(experiment.series)
    text = f"{n_match} of {len(fits)} models match all {k} series within {100 * tolerance:g}%"
    if experiment.published_matches is not None:
        text += f" (paper: {experiment.published_matches})"
    best = fits[0]
    if math.isfinite(best.worst):
        text += f"; best: model {best.model}, worst series error {100 * best.worst:.3g}% ({best.worst_series})"
    failed = [f for f in fits if not f.ok]
    if failed:
        kinds = ", ".join(f"{s} {n}" for s, n in sorted(Counter(f.status for f in failed).items()))
        text += f"; {len(failed)} run(s) did not end ok ({kinds}) and match nothing"
    if t_end is not None:
        scored, total = coverage(experiment, t_end)
        if scored < total:
            text += f"; compared over 0-{t_end:g} h only ({scored} of {total} measured points)"
    return text


# --- figure ------------------------------------------------------------------------------------


def plot_fit(runs: list[ReactorRun], fits: list[ModelFit], experiment: Experiment,
             out_dir: str | os.PathLike, stem: str = "fit", closest: int = 0) -> list[Path]:
    """``fit.png`` / ``fit.svg``: one panel per series (its unit against hours), the measured points
    with their error bars (black), the matching runs' curves highlighted, the others faint; the
    title says how many match. When fewer than ``closest`` runs match, the ``closest`` best-ranked
    runs (``fits`` best first) are highlighted instead and labelled so. The y axis ends at 1.5x the
    largest measured value (or the highest highlighted curve): runs far off leave the panel."""
    plt = pyplot()
    from matplotlib.lines import Line2D

    matching = {f.model for f in fits if f.matches_all}
    label = f"matching ({len(matching)})"
    near = [f for f in fits[:closest] if math.isfinite(f.worst)]
    if len(matching) < closest and near:
        matching = {f.model for f in near}
        label = f"closest {len(near)} (worst series <= {100 * near[-1].worst:.3g}%)"
    n = len(experiment.series)
    fig, axes = plt.subplots(1, n, figsize=(4.3 * n, 3.8), squeeze=False)
    axes = axes.ravel()
    order = sorted(runs, key=lambda r: r.model in matching)  # matching curves drawn last (on top)
    for ax, series in zip(axes, experiment.series):
        top = 1.5 * float(np.nanmax(np.concatenate([series.value, series.high])))
        for run in order:
            course = simulated_course(run, series)
            if run.model in matching:
                ax.plot(run.t, course, color="C3", linewidth=1.3, alpha=0.9, zorder=2)
                finite = course[np.isfinite(course)]
                if finite.size:
                    top = max(top, 1.05 * float(finite.max()))
            else:
                ax.plot(run.t, course, color="0.55", linewidth=0.6, alpha=0.35, zorder=1)
        bar = series.has_bar
        ax.errorbar(series.t[bar], series.value[bar],
                    yerr=[series.value[bar] - series.low[bar], series.high[bar] - series.value[bar]],
                    fmt="o", color="k", markersize=3.5, capsize=2.5, linewidth=0.9, zorder=3)
        ax.plot(series.t[~bar], series.value[~bar], "o", color="k", markersize=3.5, zorder=3)
        ax.set_ylim(0.0, top)
        end = max([experiment.t_end, *(float(r.t[-1]) for r in runs)])
        ax.set_xlim(-0.02 * end, 1.02 * end)
        ax.set_xlabel("time (h)")
        ax.set_ylabel(f"{series.label} ({series.unit})")
    handles = [Line2D([], [], color="k", marker="o", linestyle="", markersize=3.5, label="measured"),
               Line2D([], [], color="C3", linewidth=1.3, label=label),
               Line2D([], [], color="0.55", linewidth=0.6, label=f"others ({len(runs) - len(matching)})")]
    axes[0].legend(handles=handles, loc="best", fontsize=8)
    tolerance = fits[0].tolerance if fits else DEFAULT_TOLERANCE
    title = f"{sum(f.matches_all for f in fits)} of {len(runs)} models match all {n} series within {100 * tolerance:g}%"
    if experiment.published_matches is not None:
        title += f" (paper: {experiment.published_matches})"
    fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, Path(out_dir) / stem)
