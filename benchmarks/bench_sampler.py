"""Benchmark: uniform sampling of E. coli steady states (issue #4; target <= 60 s for 5,000 states, 2 cores).

Candidate: :func:`renaissance.steadystate.sampler.sample_steady_states` end to end (direction
MILP, polytopes, rounded coordinate hit-and-run with vectorised chains, assembly, checks).

Baselines, timed in the same run on the same polytopes, chains, burn-in and thinning
(sampling phase only, setup excluded):

* unrounded: the same kernel in the free coordinates (fluxes, ln x) without the Dikin
  rounding -- min ESS per second, candidate / baseline;
* one chain: the same rounded kernel advancing a single chain -- chain sweeps per second,
  vectorised / single.

``--hopsy`` adds hopsy + PolyRound (if installed) on the same polytopes: PolyRound's
simplify/transform/round time and hopsy's coordinate hit-and-run (4 chains, one process)
with the same burn-in and thinning in sweeps, ESS by the same estimator.

Run: ``PYTHONPATH=src python benchmarks/bench_sampler.py [--n 5000] [--hopsy]``
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor
from importlib.resources import files

import numpy as np
from threadpoolctl import threadpool_limits

from renaissance.model import compile_model, load_model
from renaissance.settings import UnitSettings
from renaissance.steadystate import sampler as smp
from renaissance.steadystate import problem as tfa
from renaissance.steadystate.constraints import ECOLI_CONSTRAINTS, read_constraints


def _phase(poly, n: int, n_threads: int, burn_in: int, thinning: int, n_chains=None) -> tuple[float, float, str]:
    """(seconds, min ESS, slowest name) of sampling ``n`` states of ``poly`` with the sampler's kernel."""
    tracker = smp._Progress(None, n, 1.0)
    with threadpool_limits(1), ThreadPoolExecutor(n_threads) as pool:
        start = time.perf_counter()
        _, ess = smp._sample_polytope(poly, n, np.random.SeedSequence(0), n_chains, burn_in, thinning, pool,
                                      n_threads, tracker)()
        seconds = time.perf_counter() - start
    i = int(np.argmin(ess))
    return seconds, float(ess[i]), poly.obs_names[i]


def _chain_sweeps_per_second(poly, n_chains: int, sweeps: int) -> float:
    seeds = np.random.SeedSequence(1).spawn(n_chains)
    with threadpool_limits(1):
        start = time.perf_counter()
        smp._run_block(poly, seeds, sweeps, 0, 1, lambda *a: None)
        return n_chains * sweeps / (time.perf_counter() - start)


def _hopsy(con: dict, obs: np.ndarray, offset: np.ndarray, n: int, burn_in: int, thinning: int) -> str:
    """hopsy + PolyRound on the constraints ``con`` (as built for the sampler)."""
    import warnings

    import hopsy
    import pandas as pd
    from PolyRound.api import PolyRoundApi
    from PolyRound.mutable_classes.polytope import Polytope

    warnings.filterwarnings("ignore")
    G, h = tfa.inequalities(con["lo"], con["hi"], con["A_ub"], con["b_ub"])
    fixed = con["lo"] == con["hi"]
    E = np.vstack([con["A_eq"], np.eye(len(fixed))[fixed]])
    e = np.concatenate([con["b_eq"], con["lo"][fixed]])
    poly = Polytope(pd.DataFrame(G.toarray()), pd.Series(h), *((pd.DataFrame(E), pd.Series(e)) if len(E) else ()))
    start = time.perf_counter()
    rounded = PolyRoundApi.simplify_transform_and_round(poly)
    t_round = time.perf_counter() - start
    problem = hopsy.Problem(rounded.A.values, rounded.b.values, transformation=rounded.transformation.values,
                            shift=rounded.shift.values)
    d = rounded.A.shape[1]
    x0 = np.zeros(rounded.A.shape[1])  # rounded space; PolyRound leaves the origin interior (b > 0)
    chains = [hopsy.MarkovChain(problem, proposal=hopsy.UniformCoordinateHitAndRunProposal, starting_point=x0)
              for _ in range(4)]
    rngs = [hopsy.RandomNumberGenerator(0, i) for i in range(4)]
    start = time.perf_counter()
    hopsy.sample(chains, rngs, n_samples=1, thinning=burn_in * d, n_procs=1)
    _, states = hopsy.sample(chains, rngs, n_samples=n // 4, thinning=thinning * d, n_procs=1)
    t_sample = time.perf_counter() - start
    ess = smp._ess(np.asarray(states) @ obs.T + offset)
    return (f"PolyRound {t_round:.1f} s (d = {d}, {rounded.A.shape[0]} rows); hopsy {4 * (n // 4)} states "
            f"{t_sample:.1f} s, min ESS {ess.min():.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--hopsy", action="store_true", help="also time hopsy + PolyRound (if installed)")
    parser.add_argument("--hopsy-n", type=int, default=1000, help="states for the hopsy comparison")
    args = parser.parse_args()

    cm = compile_model(load_model(str(files("renaissance") / "data" / "ecoli_varma_curated.yaml")))
    settings = read_constraints(ECOLI_CONSTRAINTS).without_measurements()  # the paper's set-up
    threads = args.threads or smp._cores()
    print(f"E. coli: {cm.n_reactions} reactions, {len(cm.species)} species; {args.n} states, {threads} threads")

    start = time.perf_counter()
    sample = smp.sample_steady_states(cm, settings, n=args.n, seed=args.seed, n_threads=threads)
    seconds = time.perf_counter() - start
    r = sample.report
    print(f"\ncandidate (end to end): {seconds:.1f} s, {args.n / seconds:.0f} states/s, "
          f"min ESS {r.min_ess:.0f} ({r.min_ess / seconds:.0f} ESS/s)")
    print(r.summary())

    # same polytopes, sampling phase only: rounded vs unrounded, vectorised vs one chain
    p = tfa.build_problem(cm, settings, UnitSettings())
    pattern = smp._patterns(p, 1, settings.time_limit)[0]
    unc = np.zeros(len(p.thermo))
    rxns, species = cm.structure.reactions, cm.species
    chains = max(1, args.n // 100)  # 100 draws per chain: the ESS resolves autocorrelation times up to ~100 draws
    print(f"\nsampling phase ({chains} chains x {args.n // chains} states, same burn-in and thinning; an ESS near "
          f"{chains} is an upper bound: the chains are too short to resolve the correlation):")
    for name, build in (("P_v", lambda rounding: smp._flux_polytope(p, pattern, settings, rxns, rounding)),
                        ("P_x", lambda rounding: smp._concentration_polytope(p, pattern, unc, species, rxns, rounding))):
        rounded, plain = build(True), build(False)
        t1, e1, s1 = _phase(rounded, args.n, threads, r.burn_in, r.thinning, chains)
        t0, e0, s0 = _phase(plain, args.n, threads, r.burn_in, r.thinning, chains)
        many = _chain_sweeps_per_second(rounded, 256, 20)
        one = _chain_sweeps_per_second(rounded, 1, 200)
        print(f"  {name} (d = {rounded.dim}, {len(rounded.r)} rows): rounded {t1:.1f} s, min ESS {e1:.0f} ({s1}); "
              f"unrounded {t0:.1f} s, min ESS {e0:.0f} ({s0}); ESS/s ratio {(e1 / t1) / (e0 / t0):.0f}x")
        print(f"      vectorised 256 chains {many:.0f} chain-sweeps/s vs one chain {one:.0f}/s: {many / one:.0f}x")

    if args.hopsy:
        con_v = tfa.flux_constraints(p, pattern, settings.flux_budget)
        vary = con_v["lo"] < con_v["hi"]
        con_x, P = smp._concentration_constraints(p, pattern, unc)
        obs_x = np.vstack([np.eye(P.shape[1]), P])
        off_x = np.concatenate([np.zeros(P.shape[1]), p.c])
        print("\nhopsy + PolyRound:")
        try:
            print("  P_v:", _hopsy(con_v, np.eye(len(vary))[vary], np.zeros(int(vary.sum())), args.hopsy_n,
                                   r.burn_in, r.thinning))
            print("  P_x:", _hopsy(con_x, obs_x, off_x, args.hopsy_n, r.burn_in, r.thinning))
        except ImportError as exc:
            print(f"  skipped ({exc})")


if __name__ == "__main__":
    main()
