"""Nonlinear robustness: perturb the steady state, integrate, check the return per metabolite.

For each model (Km, Vmax) and each of K perturbations (:mod:`.perturb`, pools kept), the
balanced species are integrated in log coordinates (:mod:`.integrate`) and, at each requested
time, the relative deviation x(t) / x* - 1 of every species and of the growth flux is recorded.
A species has *returned* at time t when |x(t) / x* - 1| <= ``tolerance`` (default 1%); the
study also reports every fraction at :data:`.robustness_report.LAB_TOLERANCE` (5%), the criterion of the same group's
robustness test (github EPFL-LCSB/human-cancer-kinetic-models,
``scripts/utils/robustness_test_simulation.py``: non-linearly stable when every concentration is
back within 5%, "95% damping of the original perturbation"; the paper does not state its own). A run
that escapes (any species ``escape_fold`` away), fails or turns non-finite has returned nowhere.
Groups (the paper's): ``biomass`` (the growth flux; the model's growth reaction, see
:mod:`renaissance.growth`), cofactor groups found by species id (``NADH``, ``ATP``, ``NADPH`` from
the shipped ``robustness_groups.yaml``, or the user's, :mod:`.groups`)
and ``cytosolic`` (all balanced species of compartment c); a group has returned when all its
members have. Groups the model cannot form are skipped and named in ``RobustnessProblem.skipped``.
The paper's percentages are shown beside a group only for the model they were published for
(:func:`renaissance.shipped.model_presets`).

Results stream to ``OUT/runs.csv`` one model at a time (every row of a model written at once),
so an interrupted study keeps its finished models and ``resume`` continues after them (with the
settings saved beside the table, :mod:`renaissance.plumbing.resumable`).
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

from .._declare import POSITIVE, Declared, Each, Int, setting
from .._files import write_text_atomic
from ..errors import RenaissanceError
from ..growth import guess_growth_reaction, resolve_growth
from ..model.compiled import CompiledModel
from ..parameterised.model import ParameterisedModel
from ..plumbing.resumable import ResultTable, array_digest, in_pool, population_inputs
from ..settings import PERTURBATION, RETURN_TOLERANCE, SEED, UnitSettings
from ..shipped import ROBUSTNESS_GROUPS, model_presets
from ..steadystate import SteadyState, state_arrays
from ..steadystate.table import pool_turnover
from .groups import CYTOSOL, missing_members, parse_groups, read_groups
from .integrate import IntegrationSettings, integrate
from .perturb import perturb_conserving
from .robustness_report import LAB_TOLERANCE, paper_value
from .system import cell_ode

RUNS = "runs.csv"
#: what ``renaissance robustness`` writes into its --out folder (the table, its settings and inputs, the figure)
OUTPUTS = (RUNS, "runs.*.json", "summary.csv", "trajectories.png", "trajectories.svg")
@dataclass(frozen=True, kw_only=True)
class RobustnessSettings(Declared, table="robustness"):
    """Perturbation size ``perturbation`` (p: +-p x*), ``n_perturbations`` per model, check
    ``times_min`` (minutes), return ``tolerance`` (relative), ``seed``, solver ``integration``."""

    perturbation: float = PERTURBATION.field()
    n_perturbations: int = setting(1, Int())
    times_min: tuple[float, ...] = setting((24.0, 34.0), Each(POSITIVE, "times (minutes)", cast=float, increasing=True))
    tolerance: float = RETURN_TOLERANCE.field()
    seed: int = SEED.field()
    integration: IntegrationSettings = field(default_factory=IntegrationSettings)


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


def study_problem(model: ParameterisedModel, *, growth: str | None = None,
                  constraints: str | os.PathLike | None = None, medium: str | os.PathLike | None = None,
                  groups: str | None = None) -> RobustnessProblem:
    """The robustness problem of a population's ``model`` (the options of ``renaissance robustness``).

    The growth reaction is ``growth``, else that of the ``constraints`` file, else the ``biomass``
    entry of the ``medium`` file, else the one the model's own constraints record, else the only
    reaction named like one (:func:`renaissance.growth.resolve_growth`). ``groups``: cofactor
    groups as :func:`.groups.parse_groups` reads them (None: the shipped ones, those the model
    lacks skipped); a given group with a species the model does not balance is an error."""
    growth_reaction = resolve_growth(model.reactions, given=growth, constraints=constraints, medium=medium,
                                     recorded=model.growth_reaction)
    cofactors = None if groups is None else parse_groups(groups)
    lacking = missing_members(cofactors or {}, model.cm.structure.variables)
    if lacking:
        raise RenaissanceError("--groups: " + "; ".join(f"group {name}: {', '.join(species)} not a balanced species "
                                                       "of the model" for name, species in lacking.items()))
    return robustness_problem(model.cm, model.state, model.units, growth_reaction, cofactors)


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
                     n_workers: int | None = None, on_model: Callable[[ModelResult], None] | None = None,
                     files: Mapping[str, str] | None = None) -> "StudyResult":
    """Run every model (rows of ``km`` (N, n_km) mol/L and ``vmax`` (N, n_rxn)); stream to ``out_dir/runs.csv``.

    ``runs.csv`` has one row per model, perturbation and check time, written as each model
    finishes: ``model`` (population index), ``perturbation`` (0..K-1), ``time_min`` (minutes),
    ``status`` (``ok``, ``escaped``, ``failed``, ``non_finite``), ``stopped_by`` (species furthest
    out when a run stopped), ``growth`` (v/v* - 1 of the growth flux, relative; NaN without one)
    and one column per balanced species (x/x* - 1, relative; NaN after a stop). The settings go to
    ``out_dir/runs.settings.json`` (:mod:`renaissance.plumbing.resumable`), the group fractions to ``summary.csv``.

    ``models``: the population indices of the rows (default 0..N-1), used for seeds and output.
    ``resume``: keep the finished models of ``out_dir`` and run only the others; other settings
    than the saved ones, another model or other Km/Vmax for a model index of both runs (another
    population) are a :class:`.resumable.ResumeError` naming them (inputs digests in ``runs.inputs.json``).
    ``n_workers``: processes (default: all cores; 1 runs in this process).
    ``files``: SHA-256 digests of the files the models come from (``ParameterisedModel.files.digests()``),
    compared on resume as well.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    models = np.arange(len(km)) if models is None else np.asarray(list(models))
    table = ResultTable(out / RUNS, _header(problem), partial(_rows, settings=settings),
                        partial(_result_from_rows, settings=settings), key=lambda result: result.model,
                        rows_per_item=settings.n_perturbations * len(settings.times_min),
                        settings={**asdict(settings), "steady_state": array_digest(problem.ln_x)},
                        inputs=population_inputs(problem.cm, files))
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
