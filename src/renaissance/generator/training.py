"""Training a generator by NES at one steady state; resumable and deterministic.

One generation: draw the children's perturbations eps (C, P), emit ``models_per_child`` Km
sets per child, evaluate lambda_max of every set exactly (LAPACK eigenvalues), score each child
with the reward, shape the rewards and move theta along sum_i r_i eps_i. Every random draw comes
from one ``torch.Generator`` seeded with ``settings.seed``, in a fixed order (noise, latent,
dropout, fixed Km), and its state is checkpointed with theta after every generation, so a run
killed at any point and resumed ends with the same weights and history as an uninterrupted run.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .._files import write_npz_atomic, write_text_atomic
from .._validation import check_device
from ..dynamics.robustness import model_task
from ..errors import RenaissanceError
from ..parameterised.fixed import FixedKm
from ..parameterised.model import ParameterisedModel, parameterise
from ..plumbing.streaming import ModelPool
from ..stability import StabilityResult, evaluate_stability
from ..stability.rewards import Reward, resolve_reward, shape_rewards
from ..stability.structural import check_structure, km_independent_mode
from .checkpoint import CHECKPOINT, HISTORY_COLUMNS, RunState, load_checkpoint, save_checkpoint
from .nes import nes_update, sample_noise
from .network import Layout, forward, init_parameters, network_layout, to_ln_km
from .robust_reward import RobustnessReward, robustness_reward, robustness_scores
from .settings import GeneratorSettings, TrainSettings, load_settings, save_settings

#: one INFO line per generation (``logging.basicConfig(level=logging.INFO)`` shows them)
_log = logging.getLogger(__name__)

CONFIG = "config.toml"
HISTORY = "history.csv"
FORWARD_ROWS = 4096
FINAL = "final.npz"
#: what ``renaissance train`` writes into its --out folder (a run, the runs of --repeats, figures)
OUTPUTS = (CONFIG, CHECKPOINT, HISTORY, FINAL, "figures", "seed_*")
#: random constant sets probed for a Km-independent unstable mode before training
PROBE_SETS = 32


def sample_fixed_ln_km(fixed: FixedKm, n: int, rng: torch.Generator) -> torch.Tensor:
    """(n, n_fixed) float64 ln(Km / (mol/L)), each Km uniform in [low, high]."""
    u = torch.rand((n, len(fixed.names)), generator=rng, dtype=torch.float64, device=rng.device)
    low, high = torch.as_tensor(fixed.low, device=rng.device), torch.as_tensor(fixed.high, device=rng.device)
    return torch.log(low + (high - low) * u)


def emit_ln_km(thetas: torch.Tensor, n_models: int, layout: Layout, settings: GeneratorSettings,
               problem: ParameterisedModel, rng: torch.Generator, *, training: bool, common_latent: bool = True) -> torch.Tensor:
    """Km sets from each parameter vector: (C, P) -> (C, n_models, n_km) ln(Km / (mol/L)), float64.

    Draws, in order: latent noise (shared by the children when ``common_latent``), dropout
    masks (``training`` only), the fixed Km.
    """
    C = thetas.shape[0]
    z = torch.randn((1 if common_latent else C, n_models, settings.latent_dim), generator=rng, device=rng.device)
    ln_km = torch.empty((C, n_models, problem.n_km), dtype=torch.float64, device=thetas.device)
    everything = len(problem.free) == problem.n_km
    free = torch.as_tensor(problem.free, device=thetas.device)
    # pieces of <= FORWARD_ROWS models keep the layer activations in cache (2x faster for 1e5 rows)
    piece = max(1, FORWARD_ROWS // C if settings.mapping == "tanh" else n_models)
    for start in range(0, n_models, piece):
        a = forward(thetas, z[:, start:start + piece].expand(C, -1, -1), layout, settings, rng if training else None)
        if everything:
            ln_km[:, start:start + piece] = to_ln_km(a, settings, problem.free_kinds)
        else:
            ln_km[:, start:start + piece, free] = to_ln_km(a, settings, problem.free_kinds)
    if len(problem.fixed.names):
        fixed = sample_fixed_ln_km(problem.fixed, C * n_models, rng).to(thetas.device)
        ln_km[..., torch.as_tensor(problem.fixed.columns, device=thetas.device)] = fixed.reshape(C, n_models, -1)
    return ln_km


def generator_sample(theta: torch.Tensor, n: int, layout: Layout, settings: GeneratorSettings,
                     problem: ParameterisedModel, rng: torch.Generator) -> np.ndarray:
    """(n, n_km) ln(Km / (mol/L)) emitted by one generator ``theta`` (P,) as in generation (no dropout)."""
    return emit_ln_km(theta[None], n, layout, settings, problem, rng, training=False)[0].cpu().numpy()


def evaluate_ln_km(problem: ParameterisedModel, ln_km: np.ndarray, threshold: float, n_threads: int | None,
                   device: str = "cpu", mode: str = "exact") -> StabilityResult:
    """Stability of (B, n_km) ln(Km / (mol/L)) sets; Jacobians on ``device`` (torch backend off the CPU)."""
    return evaluate_stability(problem.stability, np.exp(ln_km), threshold=threshold, mode=mode,
                              backend="numpy" if device == "cpu" else "torch", device=device, n_threads=n_threads)


@dataclass(frozen=True)
class TrainingRun:
    """A finished (or loaded) run: final parameters, per-generation history, final sample."""

    settings: TrainSettings
    theta: torch.Tensor
    history: dict[str, np.ndarray]
    lambda_max: np.ndarray  # (generations, C * M)
    final_ln_km: np.ndarray  # (final_samples, n_km)
    final_lambda_max: np.ndarray
    final_valid: np.ndarray
    used: np.ndarray  # (n_km,) Km that enter a rate law
    free: np.ndarray

    @property
    def final_incidence(self) -> float:
        return float(self.final_valid.mean()) if self.final_valid.size else 0.0

    @property
    def km_spread(self) -> float:
        """Mean over the emitted, used Km of the sd of ln Km among valid final models (NaN if < 2)."""
        columns = self.free[self.used[self.free]]
        valid = self.final_ln_km[self.final_valid][:, columns]
        return float(valid.std(axis=0).mean()) if len(valid) >= 2 else float("nan")

    def summary(self) -> str:
        n = len(self.final_valid)
        threshold = self.settings.nes.threshold
        lam = self.final_lambda_max[np.isfinite(self.final_lambda_max)]
        lines = [f"final generator: {self.final_valid.sum()} of {n} fresh models valid "
                 f"({100 * self.final_incidence:.1f}%, lambda_max <= {threshold:g} 1/h)"]
        target = self.settings.nes.target_lambda
        if target is not None:
            reached = int(np.sum(self.final_lambda_max <= target))
            lines.append(f"target lambda_max <= {target:g} 1/h: {reached} of {n} fresh models ({100 * reached / max(n, 1):.1f}%)")
        if len(lam):
            q = np.quantile(lam, [0.1, 0.5, 0.9])
            lines.append(f"lambda_max of fresh models (1/h): min {lam.min():.4g}, q10 {q[0]:.4g}, median {q[1]:.4g}, q90 {q[2]:.4g}")
        if self.final_valid.sum() >= 2:
            lines.append(f"spread of valid models: mean sd of ln Km = {self.km_spread:.3f}")
        if not self.final_valid.any() and not (self.lambda_max <= threshold).any():
            best = np.nanmin(self.lambda_max) if np.isfinite(self.lambda_max).any() else float("nan")
            lines.append(f"no valid model was found at this state in {self.lambda_max.size} evaluated "
                         f"(best lambda_max {best:.4g} 1/h): train longer (--generations), or check whether the "
                         "state admits valid models at all (renaissance landscape)")
        return "\n".join(lines)


def train(
    settings: TrainSettings,
    run_dir: str | os.PathLike,
    *,
    resume: bool = False,
    overwrite: bool = False,
    reward: Reward | None = None,
    allow_import: bool | Iterable[str] = False,
    n_threads: int | None = None,
    device: str = "cpu",
    on_generation: Callable[[dict], None] | None = None,
    on_note: Callable[[str], None] | None = None,
    model: ParameterisedModel | None = None,
) -> TrainingRun:
    """Train a generator; checkpoint to ``run_dir`` after every generation.

    Parameters
    ----------
    settings : TrainSettings
        Ignored when ``resume``: the run directory's ``config.toml`` is used.
    run_dir : path
        Created if needed. Holds ``config.toml``, ``checkpoint.npz``, ``history.csv`` and, at
        the end, ``final.npz`` (the final generator's fresh sample).
    resume : bool
        Continue the run in ``run_dir`` from its last checkpoint; a run stopped before its first
        checkpoint starts afresh from its ``config.toml`` (said through ``on_note``).
    overwrite : bool
        Start afresh even if ``run_dir`` holds a run (any of its files: a ``config.toml`` or
        ``history.csv`` without a checkpoint too).
    reward : callable, optional
        Overrides ``settings.nes.reward`` (see :mod:`.rewards` for the signature).
    allow_import : bool or module names
        A ``"package.module:function"`` reward of the settings is imported (running the module's
        code) only when True or naming that module; else it is refused before anything is written.
    on_generation : callable, optional
        Called after each generation with that generation's history row (a dict). Each
        generation is also logged at INFO by the logger ``renaissance.generator.training``
        (``logging.basicConfig(level=logging.INFO)`` prints them).
    on_note : callable, optional
        Called with a warning found before training: an unstable mode that every one of
        ``PROBE_SETS`` random constant sets shares (:func:`km_independent_mode`).
    model : ParameterisedModel, optional
        ``parameterise(settings.problem)`` when the caller has built it already (not read again).

    A structural zero mode at the state (:func:`~renaissance.stability.structural.check_structure`)
    raises :class:`~renaissance.errors.StructureError` before anything is written.
    """
    run_dir = Path(run_dir)
    check_device(device)
    fresh = not resume or not (run_dir / CHECKPOINT).exists()
    if resume:
        settings = load_run_settings(run_dir)
        _remove_partial_files(run_dir)
        if fresh and on_note is not None:
            on_note(f"{run_dir}: no {CHECKPOINT} (the run stopped before its first generation); starting afresh "
                    f"from its {CONFIG}")
    elif not overwrite and _run_files(run_dir):
        raise RenaissanceError(f"{run_dir}: holds a training run ({', '.join(_run_files(run_dir))}); resume it or "
                               "choose overwrite")
    problem = model if model is not None and not resume else parameterise(settings.problem)
    check_structure(problem.cm, problem.state, problem.units, problem.label)
    if on_note is not None and fresh:
        low, high = settings.generator.output_bounds(problem.cm.km_kinds)
        probe = np.random.default_rng(settings.seed).uniform(low, high, (PROBE_SETS, problem.n_km))
        mode = km_independent_mode(problem.stability, probe)
        if mode is not None:
            on_note(f"{problem.label}: {mode.describe()}")
    layout = network_layout(settings.generator, len(problem.free))
    reward_fn = resolve_reward(reward if reward is not None else settings.nes.reward, allow_import,
                               str(run_dir / CONFIG) if resume else "[nes] reward")
    nes, gen = settings.nes, settings.generator
    rng = torch.Generator(device=device)
    if not fresh:
        state = load_checkpoint(run_dir, device)
        rng.set_state(state.rng_state)
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        for stale in (CHECKPOINT, FINAL, HISTORY):  # a previous run's files (overwrite)
            (run_dir / stale).unlink(missing_ok=True)
        if not resume:  # resumed without a checkpoint: its config.toml is what this run reads
            save_settings(settings, run_dir / CONFIG)
        rng.manual_seed(settings.seed)
        theta = init_parameters(layout, torch.Generator().manual_seed(settings.seed)).to(device)
        state = RunState(theta, nes.learning_rate, 0, rng.get_state())

    robust = robustness_reward(problem, settings) if settings.robustness.enabled else None
    with ModelPool(model_task, robust.context, n_threads) if robust else nullcontext() as pool:
        while state.generation < nes.generations:
            row, lam = _generation(state, settings, layout, problem, reward_fn, rng, robust, pool, n_threads, device)
            _refuse_non_finite(state.theta, run_dir, state.generation, nes)
            state.learning_rate *= 1.0 - nes.lr_decay
            state.generation += 1
            state.rng_state = rng.get_state()
            for key, value in row.items():
                state.history[key].append(float(value))
            state.lambda_max.append(lam.ravel())
            save_checkpoint(run_dir, state)
            _write_history_csv(run_dir / HISTORY, state.history)
            _log.info("%s: gen %d/%d, generator valid %.1f%%, median lambda_max %.3g 1/h, %.2f s", run_dir,
                      state.generation, nes.generations, 100 * row["generator_incidence"],
                      row["generator_lambda_q50"], row["seconds"])
            if on_generation is not None:
                on_generation(row)

    final = generator_sample(state.theta, settings.final_samples, layout, gen, problem, rng)
    result = evaluate_ln_km(problem, final, nes.threshold, n_threads, device)
    write_npz_atomic(run_dir / FINAL, ln_km=final, lambda_max=result.lambda_max, valid=result.valid)
    return _run(settings, problem, state, final, result.lambda_max, result.valid)


def _generation(state: RunState, settings: TrainSettings, layout: Layout, problem: ParameterisedModel, reward_fn: Reward,
                rng: torch.Generator, robust: RobustnessReward | None, pool, n_threads: int | None,
                device: str) -> tuple[dict, np.ndarray]:
    """One NES generation: update ``state.theta`` in place; return the history row and the
    children's lambda_max (C, M)."""
    nes = settings.nes
    start = time.perf_counter()
    eps = sample_noise(layout.size, nes.population, nes.antithetic, rng)
    children = state.theta + nes.sigma * eps
    ln_km = emit_ln_km(children, nes.models_per_child, layout, settings.generator, problem, rng, training=True,
                       common_latent=nes.common_latent).cpu().numpy()
    result = evaluate_ln_km(problem, ln_km.reshape(-1, problem.n_km), nes.threshold, n_threads, device)
    lam = result.lambda_max.reshape(nes.population, -1)
    valid = result.valid.reshape(nes.population, -1)
    rewards = np.asarray(reward_fn(lam, valid & (lam <= nes.reward_threshold), nes.reward_threshold), dtype=float)
    robustness = np.full(nes.population, np.nan)
    if robust is not None:
        robustness = robustness_scores(robust, pool, problem.stability, ln_km, valid, state.generation)
        rewards = rewards + settings.robustness.weight * robustness
    state.theta = nes_update(state.theta, eps, shape_rewards(rewards, nes.shaping), state.learning_rate, nes.sigma)
    finite = lam[np.isfinite(lam)]
    q = np.quantile(finite, [0.0, 0.1, 0.5, 0.9]) if finite.size else np.full(4, np.nan)
    monitored = _monitor(state.theta, state.generation, settings, layout, problem, n_threads, device)
    row = dict(zip(HISTORY_COLUMNS, (
        state.generation + 1, valid.mean(), *monitored, rewards.max(), rewards.mean(), robustness.mean(), *q,
        state.learning_rate, lam.size, time.perf_counter() - start)))
    return row, lam


def _refuse_non_finite(theta: torch.Tensor, run_dir: Path, finished: int, nes) -> None:
    """Stop a run whose NES update made a weight NaN or infinite (steps far too large): one error,
    raised before anything of that generation is written, so the checkpoint of the last finished
    generation (``finished``) stays as it was."""
    if bool(torch.isfinite(theta).all()):
        return
    kept = f"{run_dir / CHECKPOINT} keeps generation {finished}" if finished else "no generation was checkpointed"
    raise RenaissanceError(f"{run_dir}: generation {finished + 1}: the NES update made the generator's weights NaN or "
                           f"infinite (nes.learning_rate {nes.learning_rate:g}, nes.sigma {nes.sigma:g}: steps far too "
                           f"large); training stopped, {kept}")


def _monitor(theta: torch.Tensor, generation: int, settings: TrainSettings, layout: Layout, problem: ParameterisedModel,
             n_threads: int | None, device: str) -> tuple[float, float]:
    """(incidence, median lambda_max in 1/h) of ``settings.nes.monitor_models`` fresh models of the
    generator (no dropout), drawn with their own seed ``[seed, generation]`` so the training
    stream is untouched; NaN if 0."""
    n = settings.nes.monitor_models
    if n == 0:
        return math.nan, math.nan
    seed = int(np.random.SeedSequence([settings.seed, generation]).generate_state(1)[0])
    rng = torch.Generator(device=device).manual_seed(seed)
    ln_km = generator_sample(theta, n, layout, settings.generator, problem, rng)
    result = evaluate_ln_km(problem, ln_km, settings.nes.threshold, n_threads, device)
    finite = result.lambda_max[np.isfinite(result.lambda_max)]
    return float(result.valid.mean()), float(np.median(finite)) if finite.size else math.nan


def _run(settings: TrainSettings, problem: ParameterisedModel, state: RunState, final_ln_km, final_lambda_max,
         final_valid) -> TrainingRun:
    return TrainingRun(settings, state.theta, {k: np.asarray(v) for k, v in state.history.items()},
                       state.lambda_array(), final_ln_km, final_lambda_max, final_valid, problem.used, problem.free)


def runs_to_resume(out: str | os.PathLike) -> list[Path]:
    """The training runs in ``out``: ``out`` itself, else its ``seed_<s>`` sub-directories
    (``train --repeats``); none is an error."""
    out = Path(out)
    run_dirs = [out] if (out / CONFIG).exists() else sorted(out.glob("seed_*"))
    if not run_dirs:
        raise RenaissanceError(f"{out}: no training run to resume (no {CONFIG})")
    return run_dirs


def load_run_settings(run_dir: str | os.PathLike) -> TrainSettings:
    """The settings a run directory was started with."""
    config = Path(run_dir) / CONFIG
    if not config.is_file():
        raise RenaissanceError(f"{run_dir}: not a training run directory (no {CONFIG})")
    return load_settings(config)


def load_run(run_dir: str | os.PathLike) -> TrainingRun:
    """A finished run read back from ``run_dir`` (its config, last checkpoint and final sample)."""
    run_dir = Path(run_dir)
    settings = load_run_settings(run_dir)
    problem = parameterise(settings.problem)
    state = load_checkpoint(run_dir)
    try:
        with np.load(run_dir / FINAL, allow_pickle=False) as final:
            ln_km, lam, valid = final["ln_km"], final["lambda_max"], final["valid"]
    except FileNotFoundError:
        raise RenaissanceError(f"{run_dir / FINAL}: missing (the run has not finished; resume it)") from None
    return _run(settings, problem, state, ln_km, lam, valid)


def _write_history_csv(path: Path, history: dict[str, list[float]]) -> None:
    rows = [",".join(HISTORY_COLUMNS)]
    for values in zip(*(history[c] for c in HISTORY_COLUMNS)):
        rows.append(",".join(repr(v) for v in values))
    write_text_atomic(path, "\n".join(rows) + "\n")


def _run_files(run_dir: Path) -> list[str]:
    """The files of a training run in ``run_dir`` (even a config or history without a checkpoint)."""
    return [name for name in (CONFIG, CHECKPOINT, HISTORY, FINAL) if (run_dir / name).exists()]


def _remove_partial_files(run_dir: Path) -> None:
    """Temporary files of a write interrupted by a kill (atomic writes leave no other trace)."""
    for tmp in run_dir.glob(".*.*"):
        if tmp.is_file() and tmp.name.startswith(tuple(f".{name}." for name in (CHECKPOINT, HISTORY, FINAL, CONFIG))):
            tmp.unlink()
