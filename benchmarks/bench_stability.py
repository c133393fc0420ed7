"""Stability throughput on the E. coli model: ours vs a per-set reference and vs LAPACK alone.

Run: ``make bench`` or ``python benchmarks/bench_stability.py [--n 10000] [--device cuda]``.
Every ratio printed is measured in this run on this machine. Workload: the reference fixture
steady state, ``n`` Km sets with ln Km uniform in [ln 1.3e-6, ln 2e-2] (mol/L), threshold -2.5 1/h.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from importlib.resources import files
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from renaissance.model import compile_model, load_model
from renaissance.stability import evaluate_stability, jacobians_and_vmax, prepare_stability
from renaissance.stability.km import sample_log_uniform_km
from renaissance.steadystate import read_steady_state, state_arrays

ROOT = Path(__file__).resolve().parents[1]
STATE = ROOT / "tests" / "fixtures" / "ecoli" / "steady_state.csv"
sys.path.insert(0, str(ROOT))
from tests.oracle_rates import reaction_rates  # noqa: E402  (the tests' independent rate law)


def reference_lambda_max(cm, arrays, km_row):
    """Straightforward evaluation of one Km set: Vmax from rates at V = 1, J by central
    differences of the reduced ODE right-hand side, dense eigenvalues."""
    st = cm.structure
    ln_k = np.log(km_row) + math.log(1e9)
    x = np.exp(arrays.ln_x)
    vmax = arrays.v / reaction_rates(cm, arrays.ln_x, ln_k, np.ones(cm.n_reactions))
    Wn = st.weights[st.independent, None] * st.S[st.independent]
    n_var = len(st.variables)
    J = np.empty((st.n_independent, st.n_independent))
    for col in range(st.n_independent):
        step = 1e-6 * x[st.independent[col]]
        plus, minus = x.copy(), x.copy()
        plus[:n_var] += step * st.link[:, col]
        minus[:n_var] -= step * st.link[:, col]
        J[:, col] = Wn @ (reaction_rates(cm, np.log(plus), ln_k, vmax)
                          - reaction_rates(cm, np.log(minus), ln_k, vmax)) / (2 * step)
    return np.linalg.eigvals(J).real.max()


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def eig_only(J, n_threads):
    """LAPACK floor: dense eigenvalues of precomputed Jacobians, chunks over threads."""
    chunks = np.array_split(J, max(1, len(J) // 128))
    with threadpool_limits(1), ThreadPoolExecutor(n_threads) as pool:
        return np.concatenate(list(pool.map(lambda a: np.linalg.eigvals(a).real.max(-1), chunks)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--n-reference", type=int, default=40, help="sets timed with the per-set reference")
    parser.add_argument("--device", default="cpu", help="torch device for the torch rows (cpu or cuda)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cores = os.cpu_count() or 1

    cm = compile_model(load_model(Path(str(files("renaissance") / "data" / "ecoli_varma_curated.yaml"))))
    state = read_steady_state(STATE)
    problem = prepare_stability(cm, state)
    arrays = state_arrays(cm, state)
    km = sample_log_uniform_km(args.n, len(cm.km_names), seed=args.seed)
    print(f"E. coli: {cm.n_reactions} reactions, {len(cm.km_names)} Km, J {problem.n}x{problem.n}; "
          f"{args.n} log-uniform Km sets; {cores} cores")

    rows = {}
    exact1, t = timed(evaluate_stability, problem, km, n_threads=1)
    rows["numpy exact, 1 thread"] = t
    exact, t = timed(evaluate_stability, problem, km, n_threads=cores)
    rows[f"numpy exact, {cores} threads"] = t
    decide, t = timed(evaluate_stability, problem, km, n_threads=cores, mode="decide")
    rows[f"numpy decide, {cores} threads"] = t
    assert np.array_equal(decide.valid, exact.valid) and np.array_equal(exact1.lambda_max, exact.lambda_max)
    try:
        import torch  # noqa: F401

        torch_exact, t = timed(evaluate_stability, problem, km, backend="torch", device=args.device, n_threads=cores)
        rows[f"torch exact ({args.device}), {cores} threads"] = t
        np.testing.assert_allclose(torch_exact.lambda_max, exact.lambda_max, rtol=1e-6, atol=1e-5)
        torch_decide, t = timed(evaluate_stability, problem, km, backend="torch", device=args.device,
                                n_threads=cores, mode="decide")
        rows[f"torch decide ({args.device}), {cores} threads"] = t
        assert np.array_equal(torch_decide.valid, exact.valid)
    except ImportError:
        print("torch not installed: torch rows skipped")

    # Work split (one thread): Jacobians + Vmax vs eigenvalues on the same matrices.
    def build_only():
        with threadpool_limits(1):
            for i in range(0, args.n, 128):
                jacobians_and_vmax(problem, np.log(km[i:i + 128]))

    _, t_build = timed(build_only)
    J = np.concatenate([jacobians_and_vmax(problem, np.log(km[i:i + 128]))[0] for i in range(0, args.n, 128)])
    _, t_eig1 = timed(eig_only, J, 1)
    _, t_eig = timed(eig_only, J, cores)

    reference, t_ref = timed(lambda: [reference_lambda_max(cm, arrays, row) for row in km[:args.n_reference]])
    np.testing.assert_allclose(reference, exact.lambda_max[:args.n_reference], rtol=1e-3)
    ref_rate = args.n_reference / t_ref

    print(f"\nvalid: {int(exact.valid.sum())} of {args.n} ({exact.incidence:.2%}); lambda_max median "
          f"{np.median(exact.lambda_max):.3g} 1/h; decide mode settled {decide.certified.mean():.1%} "
          "by determinant sign, decisions identical to exact")
    print(f"\n{'variant':<34}{'sets/s':>10}{'vs reference':>14}{'vs LAPACK floor':>17}")
    print(f"{'reference (per-set loop, FD J)':<34}{ref_rate:>10,.0f}{1:>13.1f}x")
    floor_rate = args.n / t_eig
    print(f"{f'LAPACK eigvals alone, {cores} threads':<34}{floor_rate:>10,.0f}{floor_rate / ref_rate:>13.1f}x{1:>16.2f}x")
    for name, t in rows.items():
        rate = args.n / t
        print(f"{name:<34}{rate:>10,.0f}{rate / ref_rate:>13.1f}x{rate / floor_rate:>16.2f}x")
    t_exact1 = rows["numpy exact, 1 thread"]
    print(f"\none thread: Jacobian + Vmax alone {t_build / args.n * 1e6:.0f} us/set, eigenvalues alone "
          f"{t_eig1 / args.n * 1e6:.0f} us/set, whole exact evaluation {t_exact1 / args.n * 1e6:.0f} us/set "
          f"-> non-eigenvalue work {1 - t_eig1 / t_exact1:.1%} of the total")

    # Certificates near the threshold: put it at the median lambda_max so half the sets are valid.
    threshold = float(np.median(exact.lambda_max))
    near_exact, t_ne = timed(evaluate_stability, problem, km, n_threads=cores, threshold=threshold)
    near_decide, t_nd = timed(evaluate_stability, problem, km, n_threads=cores, threshold=threshold, mode="decide")
    assert np.array_equal(near_exact.valid, near_decide.valid)
    print(f"threshold at the median ({threshold:.3g} 1/h): decide {args.n / t_nd:,.0f} sets/s vs exact "
          f"{args.n / t_ne:,.0f} sets/s ({t_ne / t_nd:.2f}x; {near_decide.certified.mean():.1%} settled by certificate)")


if __name__ == "__main__":
    main()
