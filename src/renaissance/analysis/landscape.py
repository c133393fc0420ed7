"""The dynamic landscape of sampled steady states: one score per state, on Ray, streamed and resumable.

Per state (:func:`score_state`): validate it, search Km sets with small lambda_max
(:mod:`.search`), and report the best lambda_max reached, the incidence of the search's last
iteration, whether the state *admits* valid models (best lambda_max <= threshold), the species
that dominate the slowest mode of the best Km set (shares of the squared eigenvector, in the
reduced coordinates of the Jacobian) and, for admitting states, the nonlinear robustness of up to
``robustness_models`` of the valid sets (fraction whose growth flux -- every balanced species in a
model without a growth reaction -- is back within ``tolerance`` ``time_min`` minutes after a
+-``perturbation`` conserving perturbation, see
:mod:`renaissance.dynamics.robustness`). A state that admits nothing gets a reason:

* ``invalid_state`` -- the state fails validation (message in ``detail``);
* ``flux_against_displacement`` -- some flux opposes its dG, so every Vmax set is negative;
* ``structural_zero_mode`` -- an eigenvalue is 0 for every Km set (a reaction with zero flux
  freezing a pool, or a species no rate law reads; :mod:`renaissance.stability.structural`);
* ``km_independent_unstable_mode`` -- lambda_max > 0 and the search moved it by < 1%: a mode no
  Km set can stabilise (E. coli: the cytosolic/periplasmic proton pair when ATP synthase is far from equilibrium);
* ``unstable_mode`` -- lambda_max > 0 at the best set found;
* ``slow_mode`` -- stable, but no set reached the threshold (large pools make slow modes);
* ``no_finite_lambda_max`` -- every Vmax or Jacobian was non-finite.

:func:`landscape_study` runs every state as a Ray task (a private local Ray instance on loopback,
started and stopped by the call and gone with its process, see :mod:`renaissance.plumbing.local_ray`;
or an existing cluster at ``ray_address``); ``n_workers=0`` runs the same function
in this process. Each finished state is appended to ``OUT/landscape.csv`` at once; a resumed
study keeps the finished states and runs the others; at the end the table is rewritten in state
order. Each state's random numbers come from ``default_rng([seed, state])``, so the table (all
columns but ``seconds``) does not depend on the number of workers or the order of completion.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from .._declare import Declared, Int, setting
from .._files import read_text, write_text_atomic
from ..config import ConfigError, build, km_bounds_to_ln, read_config, refuse_unknown, toml_text
from ..dynamics.robustness import RobustnessSettings, returned, robustness_problem, run_model
from ..errors import RenaissanceError, SteadyStateError, StructureError, located
from ..model.compiled import CompiledModel
from ..plumbing.local_ray import ray_session
from ..plumbing.resumable import Inputs, ResultTable, model_digest, refuse_changed_settings
from ..plumbing.streaming import csv_text
from ..settings import PERTURBATION, RETURN_TIME_MIN, RETURN_TOLERANCE, SEED, UnitSettings
from ..stability import back_calculate_vmax, jacobians_and_vmax, prepare_stability
from ..stability.structural import check_structure
from ..steadystate import SteadyState, validate_steady_state
from ..steadystate.table import model_for_state
from .search import SearchSettings, search_fast_km

TABLE = "landscape.csv"
CONFIG = "landscape.toml"
COLUMNS = ("state", "admits", "best_lambda_max", "first_lambda_max", "fast_reward", "incidence", "evaluations",
           "robust_fraction", "robust_models", "reason", "dominant_species", "detail", "seconds")
DOMINANT = 3  # species listed per slowest mode
#: the keys of a landscape TOML, and its ``[robustness]`` keys -> LandscapeSettings fields
_KEYS = ("inputs", "robustness", "search", "seed", "units")
_ROBUSTNESS_KEYS = {"models": "robustness_models", "perturbation": "perturbation", "time_min": "time_min",
                    "tolerance": "tolerance"}


@dataclass(frozen=True, kw_only=True)
class LandscapeSettings(Declared, table="landscape"):
    """Score settings: the search, the robustness check of admitting states, seed and units."""

    search: SearchSettings = field(default_factory=SearchSettings)
    robustness_models: int = setting(4, Int(0))
    perturbation: float = PERTURBATION.field()
    time_min: float = RETURN_TIME_MIN.field(34.0)
    tolerance: float = RETURN_TOLERANCE.field()
    seed: int = SEED.field()
    units: UnitSettings = field(default_factory=UnitSettings)


def load_landscape_settings(path: str | os.PathLike | None) -> LandscapeSettings:
    """Read a landscape TOML (every key optional; ``None``: the defaults)::

        seed = 0
        [search]        # SearchSettings; km_bounds = [1.3e-6, 2e-2] (mol/L) or ln_km_bounds
        iterations = 12
        [robustness]    # models, perturbation, time_min, tolerance
        models = 4
        [units]         # UnitSettings
        [inputs]        # written next to the table: model and states paths (read_landscape_inputs)
    """
    if path is None:
        return LandscapeSettings()
    source = str(path)
    data = read_config(path)
    refuse_unknown(data, _KEYS, "", source)
    refuse_unknown(data.get("robustness", {}), _ROBUSTNESS_KEYS, "robustness", source)
    try:
        search_table = dict(data.get("search", {}))
        km_bounds_to_ln(search_table, source)
        robustness = {_ROBUSTNESS_KEYS[k]: v for k, v in data.get("robustness", {}).items()}
        return build(LandscapeSettings, dict(search=build(SearchSettings, search_table, "search", source),
                                             units=build(UnitSettings, data.get("units", {}), "units", source),
                                             seed=data.get("seed", SEED.default), **robustness), "landscape", source)
    except (TypeError, ValueError) as exc:
        raise ConfigError(located(source, "settings", str(exc))) from None


def read_landscape_inputs(landscape_dir: str | os.PathLike) -> dict:
    """The ``[inputs]`` table of a scored landscape's TOML: ``model`` and ``states`` paths."""
    config = Path(landscape_dir) / CONFIG
    inputs = read_config(config).get("inputs") if config.exists() else None
    if not isinstance(inputs, dict) or not {"model", "states"} <= set(inputs):
        raise ConfigError(f"{config}: no [inputs] table with model and states; run renaissance landscape first")
    return inputs


def score_state(cm: CompiledModel, state: SteadyState, index: int, settings: LandscapeSettings) -> dict:
    """The landscape row of one state (see module docstring); one thread, never raises for a bad state."""
    start = time.perf_counter()
    row = dict.fromkeys(COLUMNS, "")
    row.update(state=index, admits=False, robust_models=0)
    with threadpool_limits(1):
        try:
            validate_steady_state(cm, state, settings.units)
            problem = prepare_stability(cm, state, settings.units)
            check_structure(cm, state, settings.units, f"state {index}")
        except SteadyStateError as exc:
            row.update(reason="invalid_state", detail=str(exc))
        except StructureError as exc:
            row.update(reason="structural_zero_mode", detail=str(exc))
        else:
            if problem.wrong_direction:
                row.update(reason="flux_against_displacement", detail=" ".join(problem.wrong_direction[:5]))
            else:
                _score_search(cm, state, index, problem, settings, row)
    row["seconds"] = round(time.perf_counter() - start, 3)
    return row


def _score_search(cm, state, index, problem, settings: LandscapeSettings, row: dict) -> None:
    found = search_fast_km(problem, settings.search, np.random.default_rng([settings.seed, index]))
    best = found.best_lambda_max
    admits = best <= settings.search.threshold
    row.update(admits=admits, best_lambda_max=best, first_lambda_max=found.first_lambda_max,
               fast_reward=found.fast_reward, incidence=found.incidence, evaluations=found.evaluations)
    if math.isfinite(best):
        J, _ = jacobians_and_vmax(problem, found.best_ln_km[None])
        row["dominant_species"] = dominant_species(J[0], problem.species)
    if not admits:
        row["reason"] = failure_reason(best, found.first_lambda_max)
        return
    if settings.robustness_models:
        valid = found.valid_ln_km if len(found.valid_ln_km) else found.best_ln_km[None]
        row.update(zip(("robust_fraction", "robust_models"), _robustness(cm, state, index, valid, problem, settings)))


def failure_reason(best: float, first: float) -> str:
    """Why a search that ended at lambda_max ``best`` (from ``first`` after one iteration) found no
    valid set (module docstring)."""
    if not math.isfinite(best):
        return "no_finite_lambda_max"
    if best <= 0:
        return "slow_mode"
    if abs(best - first) < 0.01 * abs(first):
        return "km_independent_unstable_mode"
    return "unstable_mode"


def dominant_species(J: np.ndarray, species) -> str:
    """``"a:0.61;b:0.30;c:0.05"``: the species with the largest shares |v_i|^2 of the unit
    eigenvector of the eigenvalue with the largest real part of ``J`` (n, n)."""
    values, vectors = np.linalg.eig(J)
    share = np.abs(vectors[:, int(np.argmax(values.real))]) ** 2
    share /= share.sum()
    top = np.argsort(-share, kind="stable")[:DOMINANT]
    return ";".join(f"{species[i]}:{share[i]:.2f}" for i in top)


def _robustness(cm, state, index, valid_ln_km, problem, settings: LandscapeSettings) -> tuple[float, int]:
    """(fraction of models whose growth returned, models run) for up to ``robustness_models`` sets."""
    ln_km = valid_ln_km[: settings.robustness_models]
    rob_problem = robustness_problem(model_for_state(cm, state), state, settings.units)
    rob_settings = RobustnessSettings(perturbation=settings.perturbation, times_min=(settings.time_min,),
                                      tolerance=settings.tolerance, seed=settings.seed)
    vmax = back_calculate_vmax(problem, ln_km)
    group = "biomass" if rob_problem.growth is not None else "all"
    back = [returned(run_model(rob_problem, rob_settings, index * settings.robustness_models + j, np.exp(k), v),
                     rob_problem, settings.tolerance)[group][0, 0]
            for j, (k, v) in enumerate(zip(ln_km, vmax))]
    return float(np.mean(back)), len(back)


# --- the study: Ray tasks, streaming, resume -------------------------------------------------

@dataclass(frozen=True)
class Landscape:
    """The finished table: one dict per state, in state order; ``scored`` states were run by
    this call (the others were kept from an earlier one) in ``seconds``."""

    rows: list[dict]
    seconds: float
    scored: int = 0

    def column(self, name: str) -> np.ndarray:
        return np.array([_typed(name, r[name]) for r in self.rows])

    @property
    def admitting_fraction(self) -> float:
        return float(np.mean(self.column("admits"))) if self.rows else math.nan


def landscape_study(cm: CompiledModel, states: list[SteadyState], settings: LandscapeSettings,
                    out_dir: str | os.PathLike, *, indices=None, resume: bool = False, n_workers: int | None = None,
                    ray_address: str | None = None, on_state: Callable[[dict], None] | None = None,
                    inputs: dict | None = None) -> Landscape:
    """Score ``states`` (their indices ``indices``, default 0..N-1) into ``out_dir/landscape.csv``.

    One row per state (``COLUMNS``), appended as each state finishes and sorted by state at the
    end: ``state`` (index), ``admits`` (true/false), ``best_lambda_max`` and ``first_lambda_max``
    (1/h), ``fast_reward``, ``incidence`` and ``robust_fraction`` (fractions), ``evaluations``
    (Km sets), ``robust_models`` (count), ``reason``, ``dominant_species``, ``detail`` (text) and
    ``seconds`` (s). The settings go to ``out_dir/landscape.toml`` with ``inputs`` (e.g. the model
    and states paths) as its ``[inputs]`` table; resuming with other settings is a
    :class:`~renaissance.plumbing.resumable.ResumeError` naming them (the paths of ``inputs`` are not
    compared: files may move). What the rows are computed from is, by digest
    (``out_dir/landscape.inputs.json``): another model, or another state at an index both runs
    score (another states file), is a ``ResumeError`` too; either leaves every file as it was.

    ``n_workers``: Ray workers of the local instance (default: all cores) or tasks in flight on a
    cluster; 0 runs in this process without Ray. ``resume`` keeps the finished states of an
    earlier run in ``out_dir``. ``on_state(row)`` is called as each state finishes.
    """
    start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path, config = out / TABLE, out / CONFIG
    indices = list(range(len(states))) if indices is None else [int(i) for i in indices]
    if path.exists() and not resume:
        raise RenaissanceError(f"{path} exists: pass resume=True (--resume) to continue it, or use another directory")
    table = ResultTable(path, COLUMNS, lambda row: [[_text(row[c]) for c in COLUMNS]],
                        lambda _, rows: dict(zip(COLUMNS, rows[0])), key=lambda row: int(row["state"]),
                        inputs=Inputs({"model": model_digest(cm)}, lambda item: state_digest(item[1]), "states"))
    items = list(zip(indices, states))
    if resume:
        if path.exists() and config.exists():
            refuse_changed_settings(out, settings_dict(load_landscape_settings(config)), settings_dict(settings),
                                    "use another directory")
        table.refuse_changes(items, "use another directory")
    write_text_atomic(config, toml_text({**settings_dict(settings), **({"inputs": inputs} if inputs else {})}))
    finished = table.run(items, partial(_score_states, cm, settings, n_workers, ray_address),
                         resume=resume, on_item=on_state)
    rows = [{c: _text(r[c]) for c in COLUMNS} for _, r in sorted(finished.results.items())]
    write_text_atomic(path, csv_text([COLUMNS] + [[r[c] for c in COLUMNS] for r in rows]))
    return Landscape(rows, time.perf_counter() - start, finished.ran)


def state_digest(state: SteadyState) -> str:
    """A short SHA-256 digest (16 hex digits) of a state's concentrations, fluxes and Keq overrides."""
    text = json.dumps([state.concentrations, state.fluxes, state.k_equilibrium], sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _score_states(cm, settings: LandscapeSettings, n_workers, ray_address, todo, record) -> None:
    """Score the (index, state) pairs of ``todo``, ``record(row)`` as each finishes: in this
    process (``n_workers == 0``) or as Ray tasks."""
    if n_workers == 0:
        for i, state in todo:
            record(score_state(cm, state, i, settings))
    elif todo:
        _run_on_ray(cm, todo, settings, record, n_workers, ray_address)


def read_landscape(out_dir: str | os.PathLike) -> Landscape:
    """The table of a finished (or interrupted) study."""
    path = Path(out_dir) / TABLE
    rows = list(csv.reader(io.StringIO(read_text(path, RenaissanceError))))
    if not rows or tuple(rows[0]) != COLUMNS:
        raise RenaissanceError(f"{path}: not a landscape table (header differs)")
    return Landscape([dict(zip(COLUMNS, r)) for r in rows[1:] if len(r) == len(COLUMNS)], math.nan)


def _run_on_ray(cm, todo, settings, record, n_workers, ray_address) -> None:
    """Score ``todo`` as Ray tasks on a private local instance (loopback only, gone with this
    process: :mod:`renaissance.plumbing.local_ray`) or on the cluster at ``ray_address``."""
    # workers import this package from where the driver found it (also from a checkout)
    package_root = str(Path(__file__).resolve().parents[2])
    with ray_session(ray_address, n_workers, package_root,
                     missing="the landscape runs on Ray: pip install 'ray>=2.9' (or n_workers=0)") as ray:
        task = ray.remote(num_cpus=1)(score_state)
        cm_ref, settings_ref = ray.put(cm), ray.put(settings)
        in_flight_max = 4 * (n_workers or int(ray.available_resources().get("CPU", 1)))
        pending = []
        for i, state in todo:  # keep a bounded number of tasks in flight
            pending.append(task.remote(cm_ref, state, i, settings_ref))
            if len(pending) >= in_flight_max:
                finished, pending = ray.wait(pending, num_returns=1)
                record(ray.get(finished[0]))
        while pending:
            finished, pending = ray.wait(pending, num_returns=1)
            record(ray.get(finished[0]))


def _text(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _typed(name: str, text: str):
    if name == "admits":
        return text == "true"
    if name in ("reason", "dominant_species", "detail"):
        return text
    return float(text) if text != "" else math.nan


def settings_dict(settings: LandscapeSettings) -> dict:
    """TOML-shaped dict of ``settings`` (written next to the table)."""
    data = asdict(settings)
    return {"seed": data.pop("seed"), "search": data.pop("search"), "units": data.pop("units"),
            "robustness": {("models" if k == "robustness_models" else k): v for k, v in data.items()}}
