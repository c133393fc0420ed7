"""NES training on E. coli (or any model): the default preset (with and without the robustness
reward term) vs the paper's preset vs a cross-entropy baseline.

Run: ``python benchmarks/bench_train.py [--config C.toml] [--state showcase|fixture|SS.csv] [--seeds 3]
[--generations 50] [--methods default,robust,paper,cross-entropy] [--robustness-models 2] [--out DIR]``
(``--config``: another model's training configuration, e.g. SKiMpy's kin_varma at its state,
``--config tests/fixtures/kin_varma/train.toml --generations 30 --methods default,paper,cross-entropy``).
All methods run in this process on this machine, at one steady state (default: the shipped
showcase state), each with the same evaluation budget (generations x 20 children x 100 models =
100,000 for 50 generations); ``robust`` is the default preset plus the robustness term
(``--robustness-models`` valid models per child integrated each generation). Reported per method
and seed: incidence during training, the incidence of 1,000 fresh models from the final
generator (or distribution), their median lambda_max, the spread of the valid models' Km (mean
over the used Km of the sd of ln Km), wall time and models evaluated per second.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from renaissance.generator import load_settings, train
from renaissance.generator.plots import plot_runs
from renaissance.generator.settings import settings_from_dict, settings_to_dict, shipped_state
from renaissance.generator.training import ParameterisedModel, parameterise
from renaissance.stability import evaluate_stability


def cross_entropy_search(problem: ParameterisedModel, iterations: int, per_iteration: int, ln_bounds, seed: int,
                         columns: np.ndarray, elite_fraction: float = 0.1, n_final: int = 1000):
    """Independent normal distributions over ln Km, refitted to the 10% lowest lambda_max each
    iteration (values clipped to the bounds). Returns incidence and Km spread of the valid sets
    per iteration, final fresh-sample incidence and valid ln Km."""
    rng = np.random.default_rng(seed)
    low, high = ln_bounds
    n_km = problem.n_km
    mean = np.full(n_km, (low + high) / 2)
    sd = np.full(n_km, (high - low) / 4)
    incidence, spreads = [], []

    def draw(n):
        return np.clip(rng.normal(mean, sd, size=(n, n_km)), low, high)

    for _ in range(iterations):
        ln_km = draw(per_iteration)
        result = evaluate_stability(problem.stability, np.exp(ln_km))
        incidence.append(result.valid.mean())
        spreads.append(spread(ln_km[result.valid], columns))
        order = np.argsort(np.where(np.isnan(result.lambda_max), np.inf, result.lambda_max))
        elite = ln_km[order[: max(2, int(elite_fraction * per_iteration))]]
        mean, sd = elite.mean(axis=0), np.maximum(elite.std(axis=0), 1e-3)
    ln_km = draw(n_final)
    final = evaluate_stability(problem.stability, np.exp(ln_km))
    return np.array(incidence), np.array(spreads), final.valid.mean(), ln_km[final.valid]


def spread(ln_km_valid: np.ndarray, columns: np.ndarray) -> float:
    return float(ln_km_valid[:, columns].std(axis=0).mean()) if len(ln_km_valid) >= 2 else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--generations", type=int, default=50)
    parser.add_argument("--config", type=Path, default=None, help="training TOML (default: the shipped E. coli one)")
    parser.add_argument("--state", default=None, help="shipped state name or steady-state CSV (default: the config's)")
    parser.add_argument("--methods", default="default,robust,paper,cross-entropy")
    parser.add_argument("--robustness-models", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="keep run directories and figures here")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench_train_"))
    base = load_settings(args.config)
    if args.state is not None or args.config is None:
        data = settings_to_dict(base)
        data["problem"] = {k: v for k, v in data["problem"].items() if k not in ("states", "state_index")}
        data["problem"]["steady_state"] = str(shipped_state(args.state or "showcase").resolve())
        base = settings_from_dict(data)
    problem = parameterise(base.problem)
    columns = problem.free[problem.used[problem.free]]
    methods = args.methods.split(",")
    print(f"{Path(base.problem.model).name}, state {Path(base.problem.steady_state or base.problem.states).name}, "
          f"{os.cpu_count()} cores; {args.generations} generations x "
          f"{base.nes.population} children x {base.nes.models_per_child} models per run")

    rows = {}
    runs = {}
    for method in (m for m in methods if m in ("default", "robust", "paper")):
        for seed in range(args.seeds):
            data = settings_to_dict(base)
            data.update(preset="paper" if method == "paper" else "default", seed=seed)
            data["generator"] = {k: v for k, v in data["generator"].items() if k.endswith("_bounds")}
            data["nes"] = {"generations": args.generations}
            data["robustness"] = {"models_per_child": args.robustness_models if method == "robust" else 0}
            settings = settings_from_dict(data)
            start = time.perf_counter()
            run = train(settings, out / f"{method}_seed{seed}", overwrite=True)
            seconds = time.perf_counter() - start
            evaluated = run.lambda_max.size + len(run.final_valid) + settings.nes.monitor_models * args.generations
            median = float(np.nanmedian(run.final_lambda_max))
            rows.setdefault(method, []).append((run.history["generator_incidence"], run.final_incidence, run.km_spread,
                                                seconds, evaluated / seconds, median))
            runs.setdefault(method, []).append(run)
            print(f"{method:>8} seed {seed}: final incidence {100 * run.final_incidence:5.1f}%  median lambda_max "
                  f"{median:.2f} 1/h  Km spread {run.km_spread:.2f}  {seconds:5.1f} s "
                  f"({seconds / args.generations:.2f} s/generation)  {evaluated / seconds:,.0f} models/s", flush=True)
        plot_runs(runs[method], out / f"figures_{method}")

    iterations = args.generations * base.nes.population * base.nes.models_per_child // 1000
    for seed in range(args.seeds if "cross-entropy" in methods else 0):
        start = time.perf_counter()
        inc, spreads, final, valid = cross_entropy_search(problem, iterations, 1000, base.generator.ln_km_bounds,
                                                          seed, columns)
        seconds = time.perf_counter() - start
        evaluated = iterations * 1000 + 1000
        rows.setdefault("cross-entropy", []).append((inc, final, spread(valid, columns), seconds, evaluated / seconds,
                                                     float("nan")))
        reached = np.flatnonzero(inc >= 0.98)
        when = (f"first >= 98% valid at iteration {reached[0] + 1} ({(reached[0] + 1) * 1000:,} evaluations), "
                f"Km spread there {spreads[reached[0]]:.2f}" if len(reached) else "never >= 98% valid")
        print(f"cross-entropy seed {seed}: final incidence {100 * final:5.1f}%  Km spread {spread(valid, columns):.2f}  "
              f"{seconds:5.1f} s; {when}", flush=True)

    fractions = np.arange(1, 11) / 10
    print("\nincidence during training (mean over seeds) after the evaluations of generation g: the generator's "
          "(50 fresh models, no dropout; cross-entropy: its distribution after the same number of evaluations); "
          "final = 1,000 fresh models")
    print(f"{'method':>14} " + " ".join(f"{'g' + str(round(f * args.generations)):>6}" for f in fractions)
          + f" | {'final':>20} {'median lambda':>13} {'Km sd':>6} {'time s':>7} {'vs default':>10} {'models/s':>9} {'vs CE':>6}")
    ce_rate = np.mean([r[4] for r in rows["cross-entropy"]]) if "cross-entropy" in rows else float("nan")
    default_time = np.mean([r[3] for r in rows["default"]]) if "default" in rows else float("nan")
    for method, results in rows.items():
        history = np.array([r[0] for r in results])
        marks = [history[:, max(0, int(round(f * history.shape[1])) - 1)].mean() for f in fractions]
        finals = np.array([r[1] for r in results])
        print(f"{method:>14} " + " ".join(f"{100 * m:5.1f}%" for m in marks)
              + f" | {100 * finals.mean():5.1f}% ({100 * finals.min():5.1f}-{100 * finals.max():5.1f})"
              + f" {np.mean([r[5] for r in results]):13.2f} {np.mean([r[2] for r in results]):6.2f} {np.mean([r[3] for r in results]):7.1f}"
              + f" {np.mean([r[3] for r in results]) / default_time:9.2f}x"
              + f" {np.mean([r[4] for r in results]):9,.0f}"
              + f" {np.mean([r[4] for r in results]) / ce_rate:5.2f}x" * bool(np.isfinite(ce_rate)))
    print(f"\nrun directories and figures: {out}")


if __name__ == "__main__":
    main()
