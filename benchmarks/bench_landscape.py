"""Landscape score vs the full per-state training it replaces: agreement and states per minute.

Run: ``python benchmarks/bench_landscape.py [--indices 0-15,114] [--generations 30] [--out DIR]``.
Samples the landscape's states (``renaissance sample --n 5000 --seed 0`` with the shipped
constraints), then, for each chosen state and in this process on this machine:

* the landscape score (:func:`renaissance.analysis.landscape.score_state`, default settings:
  <= 12 x 100 Km sets, one thread), and
* a full NES training with the paper's fast-dynamics reward (default preset, ``--generations``
  generations of 20 x 100 models, all cores), whose best lambda_max is the smallest over every
  model it evaluated and over its final sample of 1,000 models.

Prints both per state, the agreement of the admits flags (best lambda_max <= -2.5 1/h), the
correlation of the best lambda_max values, and states per minute of each on this machine
(score: one state per core; training: one state at a time on all cores) with their ratio.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from renaissance.analysis.landscape import LandscapeSettings, score_state
from renaissance.generator import load_settings, train
from renaissance.stability.rewards import fast_dynamics_reward
from renaissance.generator.settings import with_overrides
from renaissance.model import compile_model, load_model
from renaissance.steadystate import load_constraints, sample_steady_states, write_samples

DATA = Path(__file__).resolve().parent.parent / "src" / "renaissance" / "data"


def parse_indices(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--indices", default="0-15,114")
    parser.add_argument("--generations", type=int, default=30)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench_landscape_"))
    out.mkdir(parents=True, exist_ok=True)
    cm = compile_model(load_model(DATA / "ecoli_varma_curated.yaml"))
    sample = sample_steady_states(cm, load_constraints(DATA / "ecoli_constraints.yaml", cm), 5000, seed=0)
    states_path = out / "states.csv"
    write_samples(sample, states_path)
    base = with_overrides(load_settings(), nes={"generations": args.generations})
    settings = LandscapeSettings()
    threshold = settings.search.threshold
    rows = []
    print(f"{'state':>5} {'score best':>11} {'s':>5} | {'training best':>13} {'s':>6}  agree")
    for i in parse_indices(args.indices):
        start = time.perf_counter()
        scored = score_state(cm, sample.state(i), i, settings)
        score_seconds = time.perf_counter() - start
        run_settings = replace(base, problem=replace(base.problem, steady_state=None, states=str(states_path),
                                                     state_index=i))
        start = time.perf_counter()
        run = train(run_settings, out / f"state_{i}", overwrite=True, reward=fast_dynamics_reward)
        train_seconds = time.perf_counter() - start
        best_train = float(np.nanmin(np.r_[run.lambda_max.ravel(), run.final_lambda_max]))
        agree = (scored["best_lambda_max"] <= threshold) == (best_train <= threshold)
        rows.append((i, scored["best_lambda_max"], score_seconds, best_train, train_seconds, agree))
        print(f"{i:5d} {scored['best_lambda_max']:11.3f} {score_seconds:5.2f} | {best_train:13.3f} {train_seconds:6.1f}  "
              f"{'yes' if agree else 'NO'}", flush=True)
    score_best, score_s, train_best, train_s = (np.array([r[k] for r in rows]) for k in (1, 2, 3, 4))
    score_admits, train_admits = score_best <= threshold, train_best <= threshold
    cores = os.cpu_count() or 1
    score_rate = 60 * cores / score_s.mean()  # one state per core
    train_rate = 60 / train_s.mean()  # one state at a time on every core
    print(f"\nadmits (lambda_max <= {threshold:g} 1/h): score {score_admits.sum()}/{len(rows)}, training "
          f"{train_admits.sum()}/{len(rows)}; agreement {np.mean(score_admits == train_admits):.0%} "
          f"(score says no, training yes: {np.sum(~score_admits & train_admits)}; score yes, training no: "
          f"{np.sum(score_admits & ~train_admits)})")
    print(f"best lambda_max: Pearson r = {np.corrcoef(score_best, train_best)[0, 1]:.3f}; median of score - training "
          f"{np.median(score_best - train_best):+.2f} 1/h (negative: the score reached faster dynamics)")
    print(f"states per minute on {cores} cores: score {score_rate:.1f}, full training ({args.generations} generations) "
          f"{train_rate:.2f}; ratio {score_rate / train_rate:.0f}x")
    print(f"5,000 states: score {5000 / score_rate:.0f} min, training {5000 / train_rate / 60:.1f} h on this machine")


if __name__ == "__main__":
    main()
