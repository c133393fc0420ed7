"""Populations emitted by a trained generator (the file format: :mod:`renaissance.parameterised.population`)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import h5py
import numpy as np
import torch

from .._files import write_hdf5_atomic
from .._validation import check_device, check_int
from ..errors import SettingsError
from ..parameterised.model import ParameterisedModel, parameterise
from ..parameterised.population import PopulationWriter, open_population, read_population
from ..settings import SEED
from ..stability import REASONS
from .checkpoint import load_checkpoint
from .network import network_layout
from .training import evaluate_ln_km, generator_sample, load_run_settings

#: read_population and open_population are re-exported here, their 0.3 import path
__all__ = ["GenerationReport", "generate_population", "open_population", "read_population"]


@dataclass(frozen=True)
class GenerationReport:
    written: int
    generated: int
    valid: int
    seconds: float


def generate_population(
    run_dir: str | os.PathLike,
    n: int,
    out: str | os.PathLike,
    *,
    seed: int = 0,
    valid_only: bool = False,
    stability: bool = True,
    mode: str = "exact",
    chunk_size: int = 20_000,
    max_generated: int | None = None,
    dtype: str | None = None,
    n_threads: int | None = None,
    device: str = "cpu",
    on_chunk: Callable[[int, int], None] | None = None,
    model: ParameterisedModel | None = None,
) -> GenerationReport:
    """Emit Km sets from the trained generator in ``run_dir`` and write a population file.

    Parameters
    ----------
    n : int
        Rows to write; with ``valid_only`` the generator runs until ``n`` valid models are found
        or ``max_generated`` (default 100 n) were tried (then fewer rows are written).
    stability : bool
        Compute lambda_max and validity (LAPACK eigenvalues: ~0.4 ms per set on 2 cores);
        False writes Km and Vmax only (lambda_max NaN, valid False, reason ``ok``).
    mode : {"exact", "decide"}
        As :func:`renaissance.stability.evaluate_stability`: ``decide`` skips eigenvalues of
        sets proven unstable (their lambda_max is NaN).
    dtype : {"float32", "bfloat16"}, optional
        Compute type of the dense layers (default: the run's). ``bfloat16`` is ~1.8x faster on
        CPUs with AMX/AVX512-BF16 but emits a slightly different distribution than a float32
        generator was trained with; evaluate its stability.
    on_chunk : callable, optional
        Called as ``on_chunk(written, generated)`` after each chunk.
    model : ParameterisedModel, optional
        The run's problem when the caller has built it already (not read again).

    The population depends on ``seed`` and ``chunk_size`` (latent noise is drawn per chunk).
    """
    check_device(device)
    check_int(n, "n")
    SEED.rule.check(seed, "seed")
    if valid_only and not stability:
        raise SettingsError("valid_only needs stability=True")
    settings = load_run_settings(run_dir)
    if dtype is not None:
        settings = replace(settings, generator=replace(settings.generator, dtype=dtype))
    problem = model if model is not None else parameterise(settings.problem)
    layout = network_layout(settings.generator, len(problem.free))
    theta = load_checkpoint(run_dir, device).theta
    rng = torch.Generator(device=device).manual_seed(seed)
    max_generated = max_generated or 100 * n
    written = generated = n_valid = 0
    start = time.perf_counter()

    def write(f: h5py.File, check_written: Callable[[], None]) -> None:
        nonlocal written, generated, n_valid
        writer = PopulationWriter(f, problem, chunk_size)
        while written < n and generated < max_generated:
            wanted = n - written
            size = min(chunk_size, max(1024, 2 * wanted), max_generated - generated) if valid_only else min(chunk_size, wanted)
            ln_km = generator_sample(theta, size, layout, settings.generator, problem, rng)
            generated += size
            lam, valid, reason = _assess(problem, ln_km, settings.nes.threshold, stability, mode, n_threads, device)
            keep = np.flatnonzero(valid)[: n - written] if valid_only else np.arange(size)
            writer.append(ln_km[keep], lam[keep], valid[keep], reason[keep])
            written += len(keep)
            n_valid += int(valid[keep].sum())
            check_written()  # e.g. the disk is full: stop now
            if on_chunk is not None:
                on_chunk(written, generated)
        writer.finish(out, {"threshold": settings.nes.threshold, "seed": seed, "run_dir": str(Path(run_dir).resolve()),
                            "model": settings.problem.model, "generated": generated, "stability_evaluated": stability,
                            "network_dtype": settings.generator.dtype})

    write_hdf5_atomic(out, write)
    return GenerationReport(written, generated, n_valid, time.perf_counter() - start)


def _assess(problem: ParameterisedModel, ln_km: np.ndarray, threshold: float, stability: bool, mode: str,
            n_threads: int | None, device: str):
    if not stability:
        size = len(ln_km)
        return np.full(size, np.nan), np.zeros(size, dtype=bool), np.zeros(size, dtype=np.int8)
    result = evaluate_ln_km(problem, ln_km, threshold, n_threads, device, mode)
    code = np.array([REASONS.index(r) for r in result.reason], dtype=np.int8)
    return result.lambda_max, result.valid, code
