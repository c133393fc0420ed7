"""GPU vs CPU in the same run: stability evaluation, generation and training on E. coli.

Run: ``python benchmarks/bench_gpu.py [--n 20000] [--generations 5]`` on a machine with CUDA.
Measured in this process, at the shipped fixture state:

- stability (models/s): ``evaluate_stability`` of ``n`` log-uniform Km sets with numpy on all
  CPU cores vs the torch backend on CUDA (Jacobians and determinant certificates on the GPU,
  eigenvalues on host LAPACK threads; see :mod:`renaissance.stability.eigen`), ``exact`` mode;
- generation (Km sets/s): the shipped generator architecture emitting ``10 n`` sets on CPU vs CUDA;
- training (s/generation): ``--generations`` NES generations of the default preset on CPU vs CUDA.

Prints each pair and its ratio; exits with a message (status 0) when no CUDA device is present.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from renaissance.generator import load_settings, train
from renaissance.generator.settings import with_overrides
from renaissance.generator.training import emit_ln_km
from renaissance.parameterised import parameterise
from renaissance.generator.network import init_parameters, network_layout
from renaissance.stability import evaluate_stability
from renaissance.stability.km import sample_log_uniform_km


def timed(function) -> tuple[float, object]:
    start = time.perf_counter()
    result = function()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--generations", type=int, default=5)
    parser.add_argument("--device", default="cuda", help="the accelerator to compare with the CPU ('cpu': a smoke test)")
    args = parser.parse_args()
    device_ = args.device
    if device_.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA device: nothing to compare (run on a GPU machine)")
        return
    settings = load_settings()
    problem = parameterise(settings.problem)
    km = sample_log_uniform_km(args.n, problem.n_km, seed=0)
    evaluate_stability(problem.stability, km[:256], backend="torch", device=device_)  # warm-up
    cpu_s, cpu = timed(lambda: evaluate_stability(problem.stability, km))
    gpu_s, gpu = timed(lambda: evaluate_stability(problem.stability, km, backend="torch", device=device_))
    # near-zero eigenvalues of these stiff Jacobians (|J| up to 1e11) move by ~1e-6 1/h under
    # rounding-level changes of J: compare relative to |lambda_max| + 1 1/h
    differs = np.abs(cpu.lambda_max - gpu.lambda_max) / (np.abs(cpu.lambda_max) + 1.0)
    print(f"stability: CPU {args.n / cpu_s:,.0f} models/s, {device_} {args.n / gpu_s:,.0f} models/s, "
          f"ratio {cpu_s / gpu_s:.1f}x; same valid/invalid decisions: {np.array_equal(cpu.valid, gpu.valid)}, "
          f"max |delta lambda_max| / (|lambda_max| + 1 1/h) = {np.nanmax(differs):.1e}")

    rows = []
    for device in ("cpu", device_):
        layout = network_layout(settings.generator, len(problem.free))
        theta = init_parameters(layout, torch.Generator().manual_seed(0)).to(device)
        rng = torch.Generator(device=device).manual_seed(0)
        emit_ln_km(theta[None], 1000, layout, settings.generator, problem, rng, training=False)  # warm-up
        seconds, _ = timed(lambda: [emit_ln_km(theta[None], 20_000, layout, settings.generator, problem, rng,
                                               training=False) for _ in range(max(1, 10 * args.n // 20_000))])
        rows.append(max(1, 10 * args.n // 20_000) * 20_000 / seconds)
    print(f"generation: CPU {rows[0]:,.0f} sets/s, {device_} {rows[1]:,.0f} sets/s, ratio {rows[1] / rows[0]:.1f}x")

    short = with_overrides(settings, nes={"generations": args.generations})
    times = []
    for device in ("cpu", device_):
        with tempfile.TemporaryDirectory() as tmp:
            seconds, _ = timed(lambda: train(short, Path(tmp) / "run", device=device))
        times.append(seconds / args.generations)
    print(f"training: CPU {times[0]:.2f} s/generation, {device_} {times[1]:.2f} s/generation, "
          f"ratio {times[0] / times[1]:.1f}x")


if __name__ == "__main__":
    main()
