"""Populations: Km sets emitted by a trained generator, with Vmax and lambda_max, in HDF5.

Layout (a 2-D equivalent of SKiMpy's ``ParameterValuePopulation.save``, which writes one
dataset ``parameter_set_<i>`` per set; here row i of ``parameter_values`` is that dataset)::

    parameter_names      (P,) str     Km names (model order) then vmax_forward_<reaction>
    parameter_values     (N, P) f8    model units, as SKiMpy: Km in concentration_scale x mol/L
                                      (1e9: nmol/L), Vmax in that unit per hour
    num_parameters_sets  ()    i8     N
    lambda_max           (N,)  f8     1/h (NaN: not computed, or failed)
    valid                (N,)  bool   lambda_max <= threshold
    reason               (N,)  i1     index into the attribute ``reasons``
    attrs: format = "renaissance-population", format_version, threshold, seed, run_dir,
           model, steady_state, concentration_scale, km_unit, vmax_unit, reasons, generated,
           stability_evaluated, network_dtype, config (the run's settings as TOML: model, state, units)

Writing streams chunks into resizable datasets of a temporary file renamed at the end, so
memory stays bounded and an interrupted run leaves no partial population.
"""

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
from ..config import parse_toml, toml_text
from ..errors import ParameterFileError
from ..stability import REASONS, back_calculate_vmax
from .checkpoint import load_checkpoint
from .network import network_layout
from .settings import TrainSettings, settings_from_dict, settings_to_dict
from .training import TrainingProblem, evaluate_ln_km, generator_sample, load_problem, load_run_settings

FORMAT = "renaissance-population"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Population:
    """A population read back: Km in mol/L (N, n_km), Vmax in model units (N, n_rxn)."""

    km_names: tuple[str, ...]
    reactions: tuple[str, ...]
    km: np.ndarray
    vmax: np.ndarray
    lambda_max: np.ndarray
    valid: np.ndarray
    reason: np.ndarray  # (N,) str
    attrs: dict
    source: str = ""  # the file it was read from

    def __len__(self) -> int:
        return len(self.valid)

    def rows(self, *, all_models: bool = False, max_models: int | None = None) -> np.ndarray:
        """Indices of the valid models (every model with ``all_models``), the first
        ``max_models`` of them; none is an error naming the population."""
        rows = np.arange(len(self)) if all_models else np.flatnonzero(self.valid)
        rows = rows[:max_models] if max_models is not None else rows
        if not len(rows):
            raise ParameterFileError(f"{self.source or 'population'}: no {'' if all_models else 'valid '}models")
        return rows

    @property
    def settings(self) -> TrainSettings:
        """The settings of the run that generated the population (model, state, units)."""
        if "config" not in self.attrs:
            raise ParameterFileError(f"{self.attrs.get('run_dir')}: population without its run's settings "
                                     "(written by an older version); generate it again")
        return settings_from_dict(parse_toml(self.attrs["config"], "population"), source=f"{self.attrs.get('run_dir')} (population)")


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

    The population depends on ``seed`` and ``chunk_size`` (latent noise is drawn per chunk).
    """
    if valid_only and not stability:
        raise ValueError("valid_only needs stability=True")
    settings = load_run_settings(run_dir)
    if dtype is not None:
        settings = replace(settings, generator=replace(settings.generator, dtype=dtype))
    problem = load_problem(settings.problem)
    layout = network_layout(settings.generator, len(problem.free))
    theta = load_checkpoint(run_dir, device).theta
    rng = torch.Generator(device=device).manual_seed(seed)
    max_generated = max_generated or 100 * n
    scale = settings.problem.units.concentration_scale
    names = list(problem.stability.km_names) + [f"vmax_forward_{r}" for r in problem.stability.reactions]
    written = generated = n_valid = 0
    start = time.perf_counter()

    def write(f: h5py.File, check_written: Callable[[], None]) -> None:
        nonlocal written, generated, n_valid
        datasets = _create_datasets(f, len(names), chunk_size)
        while written < n and generated < max_generated:
            wanted = n - written
            size = min(chunk_size, max(1024, 2 * wanted), max_generated - generated) if valid_only else min(chunk_size, wanted)
            ln_km = generator_sample(theta, size, layout, settings.generator, problem, rng)
            generated += size
            lam, valid, reason = _assess(problem, ln_km, settings.nes.threshold, stability, mode, n_threads, device)
            keep = np.flatnonzero(valid)[: n - written] if valid_only else np.arange(size)
            _append_rows(datasets, problem, ln_km[keep], lam[keep], valid[keep], reason[keep], scale)
            written += len(keep)
            n_valid += int(valid[keep].sum())
            check_written()  # e.g. the disk is full: stop now
            if on_chunk is not None:
                on_chunk(written, generated)
        _write_footer(f, names, written, _attributes(settings, run_dir, seed, scale, generated, stability))

    write_hdf5_atomic(out, write)
    return GenerationReport(written, generated, n_valid, time.perf_counter() - start)


def read_population(path: str | os.PathLike) -> Population:
    """Read a population file written by :func:`generate_population`."""
    source = str(path)
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != FORMAT:
                raise ParameterFileError(f"{source}: format: not a renaissance population (attribute format = {f.attrs.get('format')!r})")
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in f["parameter_names"][()]]
            values = f["parameter_values"][()]
            scale = float(f.attrs["concentration_scale"])
            reasons = list(f.attrs["reasons"])
            split = sum(not n.startswith("vmax_forward_") for n in names)
            return Population(
                km_names=tuple(names[:split]),
                reactions=tuple(n.removeprefix("vmax_forward_") for n in names[split:]),
                km=values[:, :split] / scale,
                vmax=values[:, split:],
                lambda_max=f["lambda_max"][()],
                valid=f["valid"][()],
                reason=np.asarray(reasons, dtype=object)[f["reason"][()]],
                attrs={k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in f.attrs.items()},
                source=source,
            )
    except (OSError, KeyError) as exc:
        raise ParameterFileError(f"{source}: cannot read population ({exc})") from None


def _assess(problem: TrainingProblem, ln_km: np.ndarray, threshold: float, stability: bool, mode: str,
            n_threads: int | None, device: str):
    if not stability:
        size = len(ln_km)
        return np.full(size, np.nan), np.zeros(size, dtype=bool), np.zeros(size, dtype=np.int8)
    result = evaluate_ln_km(problem, ln_km, threshold, n_threads, device, mode)
    code = np.array([REASONS.index(r) for r in result.reason], dtype=np.int8)
    return result.lambda_max, result.valid, code


def _create_datasets(f: h5py.File, n_columns: int, chunk_size: int) -> dict:
    """Empty resizable datasets of a population: ``parameter_values`` (0, n_columns) f8 and the
    per-row columns ``lambda_max`` (0,) f8, ``valid`` (0,) bool, ``reason`` (0,) i1."""
    datasets = {"parameter_values": f.create_dataset(
        "parameter_values", (0, n_columns), maxshape=(None, n_columns),
        dtype="f8", chunks=(min(chunk_size, 1024), n_columns))}
    datasets.update({k: f.create_dataset(k, (0,), maxshape=(None,), dtype=dt, chunks=(min(chunk_size, 65536),))
                     for k, dt in (("lambda_max", "f8"), ("valid", "bool"), ("reason", "i1"))})
    return datasets


def _append_rows(datasets: dict, problem: TrainingProblem, ln_km: np.ndarray, lam: np.ndarray,
                 valid: np.ndarray, reason: np.ndarray, scale: float) -> None:
    """Append m rows: ``ln_km`` (m, n_km) ln(mol/L) is written as Km in ``scale`` x mol/L
    followed by the back-calculated Vmax (m, n_rxn) in that unit per hour; ``lam`` (m,) 1/h,
    ``valid`` (m,) bool and ``reason`` (m,) i1 go to their columns."""
    with np.errstate(over="ignore"):
        vmax = back_calculate_vmax(problem.stability, ln_km)
    block = np.hstack([np.exp(ln_km) * scale, vmax])
    _append(datasets["parameter_values"], block)
    _append(datasets["lambda_max"], lam)
    _append(datasets["valid"], valid)
    _append(datasets["reason"], reason)


def _write_footer(f: h5py.File, names: list[str], written: int, attrs: dict) -> None:
    """``parameter_names`` (P,) str, ``num_parameters_sets`` () i8 and the file attributes."""
    f.create_dataset("parameter_names", data=np.array(names, dtype=object), dtype=h5py.string_dtype())
    f.create_dataset("num_parameters_sets", data=np.int64(written))
    f.attrs.update(attrs)


def _append(dataset, block: np.ndarray) -> None:
    start = dataset.shape[0]
    dataset.resize(start + len(block), axis=0)
    dataset[start:] = block


def _attributes(settings: TrainSettings, run_dir, seed: int, scale: float, generated: int, stability: bool) -> dict:
    problem = settings.problem
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "threshold": settings.nes.threshold, "seed": seed,
        "run_dir": str(Path(run_dir).resolve()), "model": problem.model,
        "steady_state": problem.steady_state or f"{problem.states}#{problem.state_index}",
        "concentration_scale": scale, "km_unit": f"{scale:g} x mol/L", "vmax_unit": f"{scale:g} x mol/L per hour",
        "reasons": list(REASONS), "generated": generated, "stability_evaluated": stability,
        "network_dtype": settings.generator.dtype, "config": toml_text(settings_to_dict(settings)),
    }

