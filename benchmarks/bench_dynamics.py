"""Robustness integrations per second on E. coli: analytic Jacobian vs finite differences.

Run: ``python benchmarks/bench_dynamics.py [--population POP.h5] [--runs 40] [--method LSODA]``.
Workload: the robustness case (one +-50% perturbation of every balanced species, pools kept,
check at 24 and 34 min, runs stopped when a species leaves the 1000-fold neighbourhood). Models:
the valid models of ``--population`` (default: the 4 valid fixture Km sets, cycled). Both
variants integrate the same models from the same perturbations in this run, one process; the
study line adds the process pool (all cores).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from renaissance.dynamics.integrate import IntegrationSettings
from renaissance.dynamics.robustness import RobustnessSettings, robustness_problem, robustness_study, run_model
from renaissance.model import compile_model, load_model
from renaissance.settings import UnitSettings
from renaissance.stability import back_calculate_vmax, prepare_stability
from renaissance.stability.km import read_km_table
from renaissance.steadystate import read_steady_state
from renaissance.steadystate.table import model_for_state

ROOT = Path(__file__).resolve().parents[1]


def load(population: Path | None):
    if population is not None:
        from renaissance.parameterised import open_population

        pop, problem = open_population(population)
        rows = np.flatnonzero(pop.valid)
        return robustness_problem(problem.cm, problem.state, problem.units), pop.km[rows], pop.vmax[rows]
    cm = compile_model(load_model(ROOT / "src" / "renaissance" / "data" / "ecoli_varma_curated.yaml"))
    state = read_steady_state(ROOT / "tests" / "fixtures" / "ecoli" / "steady_state.csv")
    km = read_km_table(ROOT / "tests" / "fixtures" / "ecoli" / "valid_km.csv", cm.km_names)
    vmax = back_calculate_vmax(prepare_stability(cm, state), np.log(km))
    return robustness_problem(model_for_state(cm, state), state, UnitSettings()), km, vmax


def rate(problem, km, vmax, settings, runs: int) -> tuple[float, dict]:
    statuses = {}
    start = time.perf_counter()
    for i in range(runs):
        result = run_model(problem, settings, i, km[i % len(km)], vmax[i % len(km)])
        statuses[result.status[0]] = statuses.get(result.status[0], 0) + 1
    return runs / (time.perf_counter() - start), statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--population", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--method", default="LSODA")
    parser.add_argument("--study", type=int, default=200, help="models in the process-pool study")
    args = parser.parse_args()
    problem, km, vmax = load(args.population)
    settings = RobustnessSettings(integration=IntegrationSettings(method=args.method))
    baseline = replace(settings, integration=replace(settings.integration, analytic_jacobian=False))
    print(f"{os.cpu_count()} cores; {len(km)} models; {args.runs} runs each; +-50%; {args.method}")
    ours, statuses = rate(problem, km, vmax, settings, args.runs)
    fd, fd_statuses = rate(problem, km, vmax, baseline, args.runs)
    print(f"  finite-difference Jacobian (scipy): {fd:7.2f} runs/s  {fd_statuses}")
    print(f"  analytic Jacobian (ours):           {ours:7.2f} runs/s  {statuses}  {ours / fd:.1f}x")
    n = min(args.study, len(km)) if args.population else args.study
    reps = np.arange(n) % len(km)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        study = robustness_study(problem, km[reps], vmax[reps], settings, tmp, models=np.arange(n))
        seconds = time.perf_counter() - start
    print(f"  study, process pool ({os.cpu_count()} workers): {n} models in {seconds:.1f} s = {n / seconds:.1f} runs/s "
          f"({n / seconds / ours:.1f}x one process) -> 1,000 models in {1000 / (n / seconds):.0f} s; "
          f"{study.status_counts()}")


if __name__ == "__main__":
    main()
