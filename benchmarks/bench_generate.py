"""Generation throughput: Km sets per second from a trained E. coli generator.

Run: ``python benchmarks/bench_generate.py [--run RUN_DIR] [--n 1000000]``.
Without ``--run`` a generator is trained for one generation in a temporary directory (the
network's cost does not depend on its weights). Measured in this run, on this machine:

- ours, float32 and bfloat16 dense layers: ``n`` Km sets (emission only, as the paper's
  "1 M models in 15-20 s");
- reference: the same network as ``torch.nn.Sequential`` in eval mode, predicting in batches
  of 32 (the Keras ``predict`` default of the reference implementation), on n / 10 sets;
- the population file end to end (Km, back-calculated Vmax, HDF5) without and with lambda_max.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from renaissance.generator import load_settings, train
from renaissance.generator.checkpoint import load_checkpoint
from renaissance.generator.network import network_layout, to_ln_km
from renaissance.generator.population import generate_population
from renaissance.generator.settings import with_overrides
from renaissance.generator.training import emit_ln_km, generator_sample, load_run_settings
from renaissance.parameterised import parameterise
from renaissance.stability import evaluate_stability


def emit_rate(theta, layout, settings, problem, n: int, chunk: int = 20_000) -> float:
    rng = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for begin in range(0, n, chunk):
        emit_ln_km(theta[None], min(chunk, n - begin), layout, settings, problem, rng, training=False)
    return n / (time.perf_counter() - start)


def reference_rate(theta, layout, settings, n: int, batch: int = 32) -> float:
    layers = []
    for (w, b), n_in, n_out in zip(layout.slices, layout.widths[:-1], layout.widths[1:]):
        linear = torch.nn.Linear(n_in, n_out)
        with torch.no_grad():
            linear.weight.copy_(theta[w].reshape(n_in, n_out).T)
            linear.bias.copy_(theta[b] + (0 if n_out != layout.n_out else settings.offset_gain * theta[layout.offset]))
        layers += [linear, torch.nn.Tanh(), torch.nn.Dropout(settings.dropout)]
    model = torch.nn.Sequential(*layers[:-2]).eval()
    z = torch.randn(n, settings.latent_dim, generator=torch.Generator().manual_seed(0))
    start = time.perf_counter()
    with torch.no_grad():
        for begin in range(0, n, batch):
            to_ln_km(model(z[begin:begin + batch])[None], settings)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=None, help="a training run directory")
    parser.add_argument("--n", type=int, default=1_000_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_generate_"))
    run_dir = args.run
    if run_dir is None:
        run_dir = tmp / "run"
        train(replace(with_overrides(load_settings(), nes={"generations": 1}), final_samples=0), run_dir)
    settings = load_run_settings(run_dir)
    problem = parameterise(settings.problem)
    layout = network_layout(settings.generator, len(problem.free))
    theta = load_checkpoint(run_dir).theta
    print(f"{os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"network {layout.widths}, {layout.size:,} parameters")

    ours = emit_rate(theta, layout, settings.generator, problem, args.n)
    bf16 = emit_rate(theta, layout, replace(settings.generator, dtype="bfloat16"), problem, args.n)
    ref = reference_rate(theta, layout, settings.generator, max(1000, args.n // 10))
    print(f"Km sets, emission only ({args.n:,}):")
    print(f"  reference nn.Sequential, batch 32: {ref:12,.0f} sets/s  ({args.n / ref:6.1f} s per {args.n:,})")
    print(f"  ours, float32:                     {ours:12,.0f} sets/s  ({args.n / ours:6.1f} s)  {ours / ref:5.1f}x reference")
    print(f"  ours, bfloat16 dense layers:       {bf16:12,.0f} sets/s  ({args.n / bf16:6.1f} s)  {bf16 / ref:5.1f}x reference")

    n_file = max(1000, args.n // 10)
    report = generate_population(run_dir, n_file, tmp / "pop.h5", stability=False)
    size = (tmp / "pop.h5").stat().st_size
    rate = report.generated / report.seconds
    print(f"population file, Km + Vmax, no lambda_max ({n_file:,}): {rate:,.0f} sets/s "
          f"({rate / ref:.2f}x the reference's emission alone), {size / n_file:,.0f} bytes per set")
    n_eval = max(1000, args.n // 100)
    report = generate_population(run_dir, n_eval, tmp / "pop_eval.h5")
    rate = report.generated / report.seconds
    print(f"population file with exact lambda_max ({n_eval:,}): {rate:,.0f} sets/s "
          f"({rate / ref:.3f}x the reference's emission alone), {report.valid} valid")
    # the bfloat16 network emits a slightly different distribution: report its validity too
    rng = torch.Generator().manual_seed(1)
    ln_km = generator_sample(theta, 1000, layout, replace(settings.generator, dtype="bfloat16"), problem, rng)
    valid = evaluate_stability(problem.stability, np.exp(ln_km)).valid
    print(f"bfloat16 emission, 1,000 sets: {valid.mean():.1%} valid")


if __name__ == "__main__":
    main()
