"""Nonlinear robustness: perturb the steady state, integrate, check the return per metabolite.

For each model (Km, Vmax) and each of K perturbations (:mod:`.perturb`, pools kept), the
balanced species are integrated in log coordinates (:mod:`.integrate`) and, at each requested
time, the relative deviation x(t) / x* - 1 of every species and of the growth flux is recorded.
A species has *returned* at time t when |x(t) / x* - 1| <= ``tolerance`` (default 1%); the
study also reports every fraction at :data:`LAB_TOLERANCE` (5%), the criterion of the same group's
robustness test (github EPFL-LCSB/human-cancer-kinetic-models,
``scripts/utils/robustness_test_simulation.py``: non-linearly stable when every concentration is
back within 5%, "95% damping of the original perturbation"; the paper does not state its own). A run
that escapes (any species ``escape_fold`` away), fails or turns non-finite has returned nowhere.
Groups (the paper's): ``biomass`` (the growth flux; the model's growth reaction, see
:mod:`renaissance.growth`), cofactor groups found by species id (``NADH``, ``ATP``, ``NADPH`` from
the shipped ``robustness_groups.yaml``, or the user's, :func:`read_groups` / :func:`parse_groups`)
and ``cytosolic`` (all balanced species of compartment c); a group has returned when all its
members have. Groups the model cannot form are skipped and named in ``RobustnessProblem.skipped``.
The paper's percentages are shown beside a group only for the model they were published for
(:func:`renaissance.shipped.model_presets`).

Results stream to ``OUT/runs.csv`` one model at a time (every row of a model written at once),
so an interrupted study keeps its finished models and ``resume`` continues after them (with the
settings saved beside the table, :mod:`.resumable`).
Models are spread over a process pool; each model's perturbations come from
``default_rng([seed, model_index])``, so results do not depend on the number of workers.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from .._files import write_text_atomic
from .._validation import check_float, check_int
from ..errors import ConstraintsError, ModelFormatError, RenaissanceError, located
from ..growth import guess_growth_reaction
from ..model.compiled import CompiledModel
from ..model.io import read_yaml
from ..settings import UnitSettings
from ..shipped import ROBUSTNESS_GROUPS, model_presets
from ..steadystate import SteadyState, state_arrays
from ..steadystate.table import pool_turnover
from .integrate import IntegrationSettings, integrate
from .perturb import perturb_conserving
from .resumable import ResultTable, array_digest, in_pool
from .system import cell_ode

RUNS = "runs.csv"
#: check times (minutes) of the paper's robustness table
PAPER_TIMES = (24.0, 34.0)
#: groups that do not come from a groups file
BUILT_IN_GROUPS = ("biomass", "cytosolic", "all")
#: the compartment of the ``cytosolic`` group
CYTOSOL = "c"

#: the return tolerance of the lab's own robustness test (see module docstring)
LAB_TOLERANCE = 0.05


def paper_value(group: str, time_min: float, paper: Mapping) -> float | None:
    """The published percentage for ``group`` at ``time_min`` (one of :data:`PAPER_TIMES`) in
    ``paper`` (group -> percentages at PAPER_TIMES); None where it gives none."""
    return dict(zip(PAPER_TIMES, paper.get(group, (None, None)))).get(time_min)


def read_groups(path: str | os.PathLike) -> dict[str, tuple[str, ...]]:
    """The cofactor groups of a YAML file ``groups: {NAME: [species, ...]}`` (layout of the shipped
    ``robustness_groups.yaml``); a malformed file is one :class:`ConstraintsError` naming it."""
    source = str(path)
    try:
        data = read_yaml(path)
    except ModelFormatError as exc:
        raise ConstraintsError(str(exc)) from None
    table = data.get("groups") if isinstance(data, dict) else None
    if not isinstance(table, dict):
        raise ConstraintsError(located(source, "groups", "missing: a mapping NAME: [species, ...]"))
    groups = {}
    for name, species in table.items():
        if not (isinstance(species, list) and species and all(isinstance(s, str) and s for s in species)):
            raise ConstraintsError(located(source, f"groups.{name}", f"must be a list of species ids, got {species!r}"))
        groups[str(name)] = tuple(species)
    return _checked_names(groups, source)


def parse_groups(spec: str) -> dict[str, tuple[str, ...]]:
    """Cofactor groups from the command line: ``NAME=species1+species2,NAME2=species3`` (empty:
    none), or the path of a YAML groups file (:func:`read_groups`) when ``spec`` ends in
    ``.yaml`` or ``.yml``."""
    if spec.endswith((".yaml", ".yml")):
        return read_groups(spec)
    groups = {}
    for item in (part.strip() for part in spec.split(",") if part.strip()):
        name, sep, members = item.partition("=")
        species = tuple(s.strip() for s in members.split("+"))
        if not sep or not name.strip() or not all(species):
            raise ConstraintsError(f"--groups '{item}': expected NAME=species1+species2")
        groups[name.strip()] = species
    return _checked_names(groups, "--groups")


def _checked_names(groups: dict, source: str) -> dict:
    reserved = sorted(set(groups) & set(BUILT_IN_GROUPS))
    if reserved:
        raise ConstraintsError(located(source, f"groups {reserved}", f"reserved names; {list(BUILT_IN_GROUPS)} are "
                                       "built in (growth flux, compartment c, every species)"))
    return groups


def missing_members(groups: dict[str, tuple[str, ...]], species) -> dict[str, list[str]]:
    """Per group of ``groups``, its members that are not in ``species`` (groups complete: left out)."""
    known = set(species)
    return {name: [s for s in members if s not in known] for name, members in groups.items()
            if not set(members) <= known}


@dataclass(frozen=True, kw_only=True)
class RobustnessSettings:
    """Perturbation size ``perturbation`` (p: +-p x*), ``n_perturbations`` per model, check
    ``times_min`` (minutes), return ``tolerance`` (relative), ``seed``, solver ``integration``."""

    perturbation: float = 0.5
    n_perturbations: int = 1
    times_min: tuple[float, ...] = (24.0, 34.0)
    tolerance: float = 0.01
    seed: int = 0
    integration: IntegrationSettings = field(default_factory=IntegrationSettings)

    def __post_init__(self) -> None:
        check_float(self.perturbation, "perturbation", low=0.0, high=1.0, high_open=True)
        check_int(self.n_perturbations, "n_perturbations")
        object.__setattr__(self, "times_min", tuple(float(t) for t in self.times_min))
        if not self.times_min or any(t <= 0 for t in self.times_min) or list(self.times_min) != sorted(self.times_min):
            raise ValueError(f"times_min == {self.times_min}, must be increasing values > 0 (minutes)")
        check_float(self.tolerance, "tolerance", low=0.0, low_open=True)
        check_int(self.seed, "seed", min_value=0)


@dataclass(frozen=True)
class RobustnessProblem:
    """The model at its steady state: what every worker needs (picklable arrays).

    ``paper``: group -> the published percentages at :data:`PAPER_TIMES` (empty but for the
    model they were published for); ``skipped``: one line per group the model cannot form."""

    cm: CompiledModel
    ln_x: np.ndarray  # (n_sp,) model units
    ln_km_shift: float
    growth: int | None  # index of the growth reaction (None: the model has none; no biomass group)
    groups: dict[str, np.ndarray]  # group -> indices of balanced species (biomass: empty)
    turnover: np.ndarray  # (n_var,) 1/h, pool turnover of each balanced species at the state
    paper: Mapping = field(default_factory=dict)
    skipped: tuple[str, ...] = ()

    @property
    def species(self) -> list[str]:
        return self.cm.structure.variables

    @property
    def concentrations(self) -> np.ndarray:
        """(n_var,) steady-state concentrations of the balanced species, mol/L."""
        return np.exp(self.ln_x[: len(self.species)] - self.ln_km_shift)


def robustness_problem(cm: CompiledModel, state: SteadyState, units: UnitSettings = UnitSettings(),
                       growth_reaction: str | None = None, groups: dict[str, tuple[str, ...]] | None = None,
                       paper: Mapping | None = None) -> RobustnessProblem:
    """``cm`` must carry the state's Keq (``model_for_state``).

    ``growth_reaction`` defaults to :func:`renaissance.growth.guess_growth_reaction` (none: no
    ``biomass`` group). ``groups``: cofactor groups (name -> species ids), default the shipped
    ``robustness_groups.yaml``; groups with a species that is not a balanced species of the model
    are skipped (and named in ``skipped``), as is ``cytosolic`` when no balanced species is in
    compartment c. ``paper`` defaults to the published table of the model's presets (empty for
    any model but the one it was published for)."""
    reactions = cm.structure.reactions
    if growth_reaction is None:
        growth_reaction = guess_growth_reaction(reactions)
    if growth_reaction is not None and growth_reaction not in reactions:
        raise RenaissanceError(f"growth reaction '{growth_reaction}': not a reaction of the model")
    variables = cm.structure.variables
    index = {s: i for i, s in enumerate(variables)}
    cofactors = read_groups(ROBUSTNESS_GROUPS) if groups is None else groups
    missing = missing_members(cofactors, variables)
    skipped = [f"group {name} skipped: {', '.join(species)} not a balanced species of the model"
               for name, species in missing.items()]
    found = {"biomass": np.zeros(0, dtype=np.int64)} if growth_reaction is not None else {}
    found.update({name: np.array([index[s] for s in members], dtype=np.int64)
                  for name, members in cofactors.items() if name not in missing})
    cytosolic = np.array([i for i, s in enumerate(variables) if cm.model.species.get(s) == CYTOSOL], dtype=np.int64)
    if len(cytosolic):
        found["cytosolic"] = cytosolic
    else:
        skipped.append(f"group cytosolic skipped: no balanced species in compartment {CYTOSOL}")
    arrays = state_arrays(cm, state, units)
    return RobustnessProblem(cm, arrays.ln_x, units.log_concentration_scale,
                             None if growth_reaction is None else reactions.index(growth_reaction), found,
                             pool_turnover(cm, arrays) / units.time_scale,
                             dict(model_presets(cm.model).paper if paper is None else paper), tuple(skipped))


@dataclass(frozen=True)
class ModelResult:
    """One model: ``deviation`` (K, T, n_var) x/x* - 1, ``growth`` (K, T) v/v* - 1, ``status`` (K,)
    str, ``escaped`` (K,) species with the largest deviation when a run stopped ('' otherwise)."""

    model: int
    deviation: np.ndarray
    growth: np.ndarray
    status: np.ndarray
    escaped: np.ndarray
    seconds: float


def perturbations(problem: RobustnessProblem, settings: RobustnessSettings, model: int) -> np.ndarray:
    """(K, n_var) perturbed starting states of ``model`` (seeded by ``[settings.seed, model]``)."""
    st = problem.cm.structure
    x_star = np.exp(problem.ln_x[: len(st.variables)])
    return perturb_conserving(x_star, st.conservation / st.weights, settings.perturbation, settings.n_perturbations,
                              np.random.default_rng([settings.seed, model]))


def run_model(problem: RobustnessProblem, settings: RobustnessSettings, model: int, km: np.ndarray,
              vmax: np.ndarray) -> ModelResult:
    """Integrate the K perturbations of one model (Km in mol/L, Vmax in model units)."""
    start = time.perf_counter()
    st = problem.cm.structure
    n_var = len(st.variables)
    ode = cell_ode(problem.cm, problem.ln_x, np.log(km) + problem.ln_km_shift, vmax)
    y_star = problem.ln_x[:n_var]
    growth_star = ode.laws.rates(problem.ln_x)[problem.growth] if problem.growth is not None else math.nan
    x0 = perturbations(problem, settings, model)
    times = np.array(settings.times_min) / 60.0
    K, T = settings.n_perturbations, len(times)
    deviation = np.full((K, T, n_var), np.nan)
    growth = np.full((K, T), np.nan)
    status = np.empty(K, dtype=object)
    escaped = np.full(K, "", dtype=object)
    for k in range(K):
        traj = integrate(ode, np.log(x0[k]), times, settings.integration, reference=y_star)
        status[k] = traj.status
        with np.errstate(all="ignore"):
            deviation[k] = np.expm1(traj.y - y_star)
            if problem.growth is not None:
                growth[k] = [ode.laws.rates(ode.full_state(y))[problem.growth] / growth_star - 1 for y in traj.y]
        if traj.status != "ok" and np.all(np.isfinite(traj.y_stop)):
            escaped[k] = st.variables[int(np.argmax(np.abs(traj.y_stop - y_star)))]
    return ModelResult(model, deviation, growth, status, escaped, time.perf_counter() - start)


def group_deviations(result: ModelResult, problem: RobustnessProblem) -> dict[str, np.ndarray]:
    """Per group, (K, T) largest |x/x* - 1| of its members (biomass: |v/v* - 1| of the growth
    flux); +inf for runs that did not end ``ok``. Group ``all``: every balanced species."""
    failed = (result.status != "ok")[:, None]
    with np.errstate(invalid="ignore"):
        out = {"biomass": np.abs(result.growth)} if problem.growth is not None else {}
        for name, members in problem.groups.items():
            if name != "biomass":
                out[name] = np.abs(result.deviation[:, :, members]).max(axis=-1, initial=0.0)
        out["all"] = np.abs(result.deviation).max(axis=-1, initial=0.0)
    return {name: np.where(failed | np.isnan(d), np.inf, d) for name, d in out.items()}


def tolerance_quantile(deviations: np.ndarray, fraction: float) -> np.ndarray:
    """(T,) the smallest tolerance at which ``fraction`` of the (runs, T) ``deviations`` are within it."""
    k = max(int(math.ceil(fraction * len(deviations))) - 1, 0)
    return np.sort(deviations, axis=0)[k]


def returned(result: ModelResult, problem: RobustnessProblem, tolerance: float) -> dict[str, np.ndarray]:
    """Per group, (K, T) bool: every member back within ``tolerance`` (runs not ``ok``: False);
    group ``all``: every balanced species."""
    return {name: d <= tolerance for name, d in group_deviations(result, problem).items()}


# --- the study: process pool, streaming, resume ---------------------------------------------

def model_task(context: tuple[RobustnessProblem, RobustnessSettings], model: int, km: np.ndarray,
               vmax: np.ndarray) -> ModelResult:
    """:func:`run_model` with ``context`` = (problem, settings): the task of a process pool."""
    problem, settings = context
    return run_model(problem, settings, model, km, vmax)


def robustness_study(problem: RobustnessProblem, km: np.ndarray, vmax: np.ndarray, settings: RobustnessSettings,
                     out_dir: str | os.PathLike, *, models: Iterable[int] | None = None, resume: bool = False,
                     n_workers: int | None = None, on_model: Callable[[ModelResult], None] | None = None) -> "StudyResult":
    """Run every model (rows of ``km`` (N, n_km) mol/L and ``vmax`` (N, n_rxn)); stream to ``out_dir/runs.csv``.

    ``runs.csv`` has one row per model, perturbation and check time, written as each model
    finishes: ``model`` (population index), ``perturbation`` (0..K-1), ``time_min`` (minutes),
    ``status`` (``ok``, ``escaped``, ``failed``, ``non_finite``), ``stopped_by`` (species furthest
    out when a run stopped), ``growth`` (v/v* - 1 of the growth flux, relative; NaN without one)
    and one column per balanced species (x/x* - 1, relative; NaN after a stop). The settings go to
    ``out_dir/runs.settings.json`` (:mod:`.resumable`), the group fractions to ``summary.csv``.

    ``models``: the population indices of the rows (default 0..N-1), used for seeds and output.
    ``resume``: keep the finished models of ``out_dir`` and run only the others; other settings
    than the saved ones are a :class:`.resumable.ResumeError` naming them.
    ``n_workers``: processes (default: all cores; 1 runs in this process).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    models = np.arange(len(km)) if models is None else np.asarray(list(models))
    table = ResultTable(out / RUNS, _header(problem), partial(_rows, settings=settings),
                        partial(_result_from_rows, settings=settings), key=lambda result: result.model,
                        rows_per_item=settings.n_perturbations * len(settings.times_min),
                        settings={**asdict(settings), "steady_state": array_digest(problem.ln_x)})
    done = table.run([(int(m), km[i], vmax[i]) for i, m in enumerate(models)],
                     in_pool(model_task, (problem, settings), n_workers), resume=resume, on_item=on_model).results
    study = StudyResult(problem, settings, [done[int(m)] for m in models])
    write_text_atomic(out / "summary.csv", study.summary_csv())
    return study


@dataclass(frozen=True)
class StudyResult:
    problem: RobustnessProblem
    settings: RobustnessSettings
    results: list[ModelResult]

    def deviations(self) -> dict[str, np.ndarray]:
        """Per group, (runs, T) largest deviation of its members (:func:`group_deviations`)."""
        per_model = [group_deviations(r, self.problem) for r in self.results]
        return {g: np.concatenate([p[g] for p in per_model]) for g in per_model[0]}

    def fractions(self, tolerance: float | None = None) -> dict[str, np.ndarray]:
        """Per group, (T,) fraction of all runs (models x perturbations) back within ``tolerance``
        (default: the study's)."""
        tolerance = self.settings.tolerance if tolerance is None else tolerance
        return {g: np.mean(d <= tolerance, axis=0) for g, d in self.deviations().items()}

    def tolerance_for(self, fraction: float) -> dict[str, np.ndarray]:
        """Per group, (T,) the smallest return tolerance at which ``fraction`` of the runs count as
        returned (+inf when more than 1 - fraction of them escaped or failed)."""
        return {g: tolerance_quantile(d, fraction) for g, d in self.deviations().items()}

    def slowest_species(self, time_index: int = 0, n: int = 5) -> list[tuple[str, float]]:
        """The ``n`` species returned in the fewest runs at ``times_min[time_index]``: (species,
        fraction returned), fewest first."""
        fractions = self.species_fractions()[time_index]
        order = np.argsort(fractions, kind="stable")[:n]
        return [(self.problem.species[i], float(fractions[i])) for i in order]

    def species_fractions(self) -> np.ndarray:
        """(T, n_var) fraction of runs in which each species returned."""
        ok = np.concatenate([(r.status == "ok")[:, None, None] & (np.abs(r.deviation) <= self.settings.tolerance)
                             for r in self.results])
        return ok.mean(axis=0)

    def status_counts(self) -> dict[str, int]:
        statuses = np.concatenate([r.status for r in self.results])
        return {s: int(np.sum(statuses == s)) for s in sorted(set(statuses))}

    def escaped_species(self) -> dict[str, int]:
        names = [n for r in self.results for n in r.escaped if n]
        return dict(sorted(((n, names.count(n)) for n in set(names)), key=lambda item: -item[1]))

    def paper_tolerances(self) -> dict[str, list[float | None]]:
        """Per group, per check time: the return tolerance at which our fraction reaches the
        paper's (None where the paper gives no value)."""
        out = {}
        for group, d in self.deviations().items():
            values = [paper_value(group, t, self.problem.paper) for t in self.settings.times_min]
            out[group] = [None if p is None else float(tolerance_quantile(d, p / 100)[j]) for j, p in enumerate(values)]
        return out

    def summary_csv(self) -> str:
        times = self.settings.times_min
        lines = ["group,time_min,fraction_returned,fraction_returned_5pct,paper,tolerance_for_paper"]
        needed = self.paper_tolerances()
        lab = self.fractions(LAB_TOLERANCE)
        for group, values in self.fractions().items():
            for j, (t, value) in enumerate(zip(times, values)):
                paper, tol = paper_value(group, t, self.problem.paper), needed[group][j]
                lines.append(f"{group},{t:g},{float(value)!r},{float(lab[group][j])!r},"
                             f"{'' if paper is None else paper / 100},{'' if tol is None else repr(tol)}")
        for t, row in zip(times, self.species_fractions()):
            lines += [f"species:{s},{t:g},{float(value)!r},,," for s, value in zip(self.problem.species, row)]
        return "\n".join(lines) + "\n"


def _header(problem: RobustnessProblem) -> list[str]:
    return ["model", "perturbation", "time_min", "status", "stopped_by", "growth", *problem.species]


def _rows(result: ModelResult, settings: RobustnessSettings) -> list[list]:
    return [[result.model, k, f"{t:g}", result.status[k], result.escaped[k], repr(float(result.growth[k, j])),
             *(repr(float(d)) for d in result.deviation[k, j])]
            for k in range(len(result.status)) for j, t in enumerate(settings.times_min)]


def _result_from_rows(model: int, rows: list[list[str]], settings: RobustnessSettings) -> ModelResult:
    K, T = settings.n_perturbations, len(settings.times_min)
    values = np.array([[float(v) for v in r[5:]] for r in rows]).reshape(K, T, -1)
    return ModelResult(model, values[:, :, 1:], values[:, :, 0],
                       np.array([rows[k * T][3] for k in range(K)], dtype=object),
                       np.array([rows[k * T][4] for k in range(K)], dtype=object), 0.0)


def study_report(study: StudyResult, n_species: int = 5) -> list[str]:
    """Plain-language lines under the table: how many runs escaped and what drove them out, the
    species last to return (pool size and turnover) and what the paper's numbers would need."""
    settings, problem = study.settings, study.problem
    counts = study.status_counts()
    runs = sum(counts.values())
    lines = []
    left = runs - counts.get("ok", 0)
    if left:
        drivers = ", ".join(f"{name} {n}" for name, n in list(study.escaped_species().items())[:4])
        lines.append(
            f"{left} of {runs} runs did not return: {counts.get('escaped', 0)} escaped (some species left the "
            f"{settings.integration.escape_fold:g}-fold neighbourhood of the steady state and the run was stopped"
            + (f"; species furthest out: {drivers}" if drivers else "") + ")"
            + "".join(f", {counts[s]} {s}" for s in ("failed", "non_finite") if counts.get(s))
            + ". Such runs count as not returned in every group: the perturbation took these models to another "
            "state (or none), not back to the steady state.")
    t = settings.times_min[0]
    index = {s: i for i, s in enumerate(problem.species)}
    slow = "; ".join(
        f"{name} {100 * fraction:.0f}% (pool {1e3 * problem.concentrations[index[name]]:.3g} mM, turnover "
        f"{problem.turnover[index[name]]:.3g} 1/h)" for name, fraction in study.slowest_species(0, n_species))
    lines.append(f"last to return at {t:g} min (share of runs back within {100 * settings.tolerance:g}%): {slow}. "
                 "A pool returns at the rate of the slowest mode it takes part in; large pools with little "
                 "turnover and small pools coupled to them lag.")
    needed = study.paper_tolerances()
    parts = [f"{g} at {t:g} min: {_percent(tol, left, runs)}" for g, tols in needed.items()
             for t, tol in zip(settings.times_min, tols) if tol is not None]
    if parts:
        lines.append("return tolerance at which these models meet the paper's percentage (the paper does not state "
                     "its own): " + ", ".join(parts) + ".")
    return lines


def _percent(tolerance: float, left: int, runs: int) -> str:
    return f"never ({left} of {runs} runs did not return)" if not math.isfinite(tolerance) else f"{100 * tolerance:.2g}%"
