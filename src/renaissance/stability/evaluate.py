"""Batched stability evaluation: Km sets -> Vmax -> reduced Jacobian -> lambda_max / validity."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from .._validation import check_choice, check_device, check_shape
from ..errors import RenaissanceError
from ..model.compiled import CompiledModel
from ..settings import VALID_LAMBDA_MAX, UnitSettings
from ..steadystate.table import SteadyState, model_for_state, state_arrays
from .eigen import DEFAULT_LADDER, certify_unstable, lambda_max
from .problem import EIGEN_FAILED, OK, REASONS, StabilityProblem, build_problem, jacobians_and_vmax, screen

BACKENDS = ("numpy", "torch")
MODES = ("exact", "decide")


@dataclass(frozen=True)
class StabilityResult:
    """Outcome per Km set, shapes (B,).

    ``lambda_max`` is max Re(eig J) in 1/h (NaN where no value was computed: a failed set, or
    in ``decide`` mode a set proven unstable by a determinant certificate); ``valid`` is
    ``lambda_max <= threshold`` for sets whose reason is ``ok``; ``reason`` is one of
    ``REASONS``; ``certified`` marks sets settled without eigenvalues.
    """

    lambda_max: np.ndarray
    valid: np.ndarray
    reason: np.ndarray
    certified: np.ndarray
    threshold: float

    @property
    def incidence(self) -> float:
        """Fraction of valid sets."""
        return float(np.mean(self.valid)) if len(self.valid) else 0.0


def prepare_stability(
    cm: CompiledModel, state: SteadyState, settings: UnitSettings = UnitSettings()
) -> StabilityProblem:
    """Precompute everything that does not depend on Km at ``state`` (its Keq overrides applied)."""
    cm = model_for_state(cm, state)
    return build_problem(cm, state_arrays(cm, state, settings), settings.log_concentration_scale)


def evaluate_stability(
    problem: StabilityProblem,
    km,
    *,
    threshold: float = VALID_LAMBDA_MAX,
    mode: str = "exact",
    backend: str = "numpy",
    device: str = "cpu",
    n_threads: int | None = None,
    chunk_size: int | None = None,
    ladder=DEFAULT_LADDER,
) -> StabilityResult:
    """Evaluate a batch of Km sets at the steady state of ``problem``.

    Parameters
    ----------
    km : array, shape (B, n_km)
        Michaelis constants in mol/L, columns in ``problem.km_names`` order (Km that enter no
        rate are ignored). Must be finite and > 0 (checked by the file readers).
    threshold : float
        Validity threshold on lambda_max in 1/h (default
        :data:`~renaissance.settings.VALID_LAMBDA_MAX`, -2.5, i.e. 24 min).
    mode : {"exact", "decide"}
        ``exact``: dense eigenvalues for every set. ``decide``: sets proven unstable by a
        determinant sign (see :mod:`.eigen`) skip the eigenvalues; ``valid`` is identical,
        ``lambda_max`` is NaN for those sets.
    backend : {"numpy", "torch"}
        torch runs in float64 on ``device`` (``"cpu"`` or ``"cuda"``).
    n_threads : int, optional
        Worker threads (default: all cores); LAPACK releases the GIL. On a GPU the Jacobians
        and determinant certificates run on the device chunk after chunk, and the threads share
        each chunk's eigenvalues on the host.
    chunk_size : int, optional
        Km sets per chunk (default: 4096 on a GPU; on the CPU 128, or fewer so that a small batch
        still gives every thread a chunk).
    """
    check_choice(mode, "mode", MODES)
    check_choice(backend, "backend", BACKENDS)
    with np.errstate(all="ignore"):  # a Km <= 0 gives NaN, reported per set by `screen`
        ln_km = np.log(np.asarray(km, dtype=np.float64))
    check_shape(ln_km, "km", ("B", len(problem.km_names)))
    xp, prob, ln_km_x = _backend_arrays(problem, ln_km, backend, device)

    def run(start: int, eigenvalues):
        return _run_chunk(prob, ln_km_x[start:start + chunk_size], xp, mode, threshold, ladder, eigenvalues)

    on_gpu = backend == "torch" and device != "cpu"
    n_threads = n_threads or os.cpu_count() or 1
    # CPU: chunks of <= 128 sets, at least one per thread for small batches
    chunk_size = chunk_size or (4096 if on_gpu else max(1, min(128, -(-ln_km.shape[0] // n_threads))))
    starts = range(0, ln_km.shape[0], chunk_size)
    with threadpool_limits(1), ThreadPoolExecutor(max_workers=n_threads) as pool:
        if on_gpu:  # the device builds large chunks in turn; host threads share their eigenvalues
            def host_eigenvalues(J):
                pieces = np.array_split(J.cpu().numpy(), n_threads)
                return np.concatenate(list(pool.map(lambda_max, pieces)))

            parts = [run(start, host_eigenvalues) for start in starts]
        else:
            parts = list(pool.map(lambda start: run(start, lambda J: lambda_max(J, xp)), starts))
    if not parts:
        parts = [(np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool))]
    lam, code, certified = (np.concatenate(p) for p in zip(*parts))
    valid = (code == OK) & (lam <= threshold)
    return StabilityResult(lam, valid, np.asarray(REASONS, dtype=object)[code], certified, threshold)


def _backend_arrays(problem: StabilityProblem, ln_km: np.ndarray, backend: str, device: str):
    """``(xp, problem, ln_km)`` for ``backend``: numpy and the inputs as given, or torch, the
    problem on ``device`` and ``ln_km`` (B, n_km), ln(mol/L), as a float64 tensor there."""
    if backend != "torch":
        return np, problem, ln_km
    try:
        import torch
    except ImportError:
        raise RenaissanceError(
            "backend 'torch' needs PyTorch: pip install 'renaissance-kinetics[torch]'") from None

    check_device(device)
    xp, prob = torch, problem.to_torch(device)
    ln_km_x = torch.as_tensor(ln_km, device=device)
    # load torch's lazily initialised linear-algebra backend once, before worker threads
    # race to initialise it ("lazy wrapper should be called at most once" on CUDA)
    torch.linalg.slogdet(torch.eye(2, dtype=torch.float64, device=device))
    return xp, prob, ln_km_x


def _run_chunk(prob, ln_km, xp, mode: str, threshold: float, ladder, eigenvalues):
    """One chunk of Km sets, ``ln_km`` (b, n_km) in ln(mol/L) on ``xp``'s device.

    Returns numpy arrays of shape (b,): lambda_max in 1/h (NaN where not computed), the
    reason code, and whether the set was certified unstable without eigenvalues.
    ``eigenvalues`` maps Jacobians (m, n, n) to lambda_max (m,) in 1/h.
    """
    with np.errstate(all="ignore"):  # overflow is reported per set by `screen`
        J, vmax = jacobians_and_vmax(prob, ln_km, xp)
    code = _to_numpy(screen(J, vmax, xp))
    lam = np.full(len(code), np.nan)
    certified = np.zeros(len(code), dtype=bool)
    ok = np.flatnonzero(code == OK)
    if mode == "decide" and len(ok):
        certified[ok] = _to_numpy(certify_unstable(J[_index(ok, xp, J)], threshold, ladder, xp))
        ok = ok[~certified[ok]]
    if len(ok):
        try:
            lam[ok] = eigenvalues(J[_index(ok, xp, J)])
        except (np.linalg.LinAlgError, RuntimeError):
            code[ok] = EIGEN_FAILED
    return lam, code, certified


def _to_numpy(a) -> np.ndarray:
    return a if isinstance(a, np.ndarray) else a.cpu().numpy()


def _index(idx: np.ndarray, xp, like):
    return idx if xp is np else xp.as_tensor(idx, device=like.device)


def evaluate_in_blocks(problem: StabilityProblem, km: np.ndarray, *, block: int = 2000,
                       on_block: Callable[[int], None] | None = None, **options) -> StabilityResult:
    """:func:`evaluate_stability` of (B, n_km) Km sets (mol/L), ``block`` rows at a time;
    ``on_block(rows)`` after each block (progress). ``options`` go to :func:`evaluate_stability`."""
    parts = []
    for start in range(0, len(km), block):
        parts.append(evaluate_stability(problem, km[start:start + block], **options))
        if on_block is not None:
            on_block(len(parts[-1].valid))
    if not parts:
        return evaluate_stability(problem, km, **options)
    return StabilityResult(*(np.concatenate([getattr(p, name) for p in parts])
                             for name in ("lambda_max", "valid", "reason", "certified")), threshold=parts[0].threshold)


def stability_table_text(result: StabilityResult) -> str:
    """``lambda_max,valid,reason`` CSV of ``result``, one row per Km set (empty lambda_max: NaN)."""
    lines = ["lambda_max,valid,reason"] + [
        f"{'' if np.isnan(x) else repr(float(x))},{str(bool(v)).lower()},{r}"
        for x, v, r in zip(result.lambda_max, result.valid, result.reason)]
    return "\n".join(lines) + "\n"
