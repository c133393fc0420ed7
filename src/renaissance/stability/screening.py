"""Random Km sets screened without training: how many are valid at a state, and how fast each
stability method settles them (``renaissance screen``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..settings import VALID_LAMBDA_MAX
from .evaluate import StabilityResult, evaluate_in_blocks
from .km import sample_log_uniform_km
from .problem import StabilityProblem

#: the two stability methods compared: determinant certificates first, then eigenvalues of every set
MODES = ("decide", "exact")


@dataclass(frozen=True)
class ScreenResult:
    """One method's pass over the random sets: its outcome and the wall time (s)."""

    mode: str
    result: StabilityResult
    seconds: float

    def describe(self) -> str:
        """One line: valid sets, speed, and the method's detail (share certified, or lambda_max)."""
        n, lam = len(self.result.valid), self.result.lambda_max
        detail = (f"{self.result.certified.mean():.0%} settled by determinant sign" if self.mode == "decide" else
                  f"lambda_max median {np.nanmedian(lam):.3g}, min {np.nanmin(lam):.3g} 1/h")
        return (f"{self.mode:>6}: {int(self.result.valid.sum())} of {n} random Km sets valid (lambda_max <= "
                f"{self.result.threshold:g} 1/h) in {self.seconds:.2f} s = {n / self.seconds:,.0f} sets/s; {detail}")


def screen_random_km(problem: StabilityProblem, n: int, *, seed: int = 0, threshold: float = VALID_LAMBDA_MAX,
                     n_threads: int | None = None,
                     on_block: Callable[[str, int], None] | None = None) -> list[ScreenResult]:
    """``n`` log-uniform Km sets (the paper's bounds) evaluated at ``problem``'s state by each of
    :data:`MODES`; ``on_block(mode, rows)`` reports progress."""
    km = sample_log_uniform_km(n, len(problem.km_names), seed=seed)
    found = []
    for mode in MODES:
        start = time.perf_counter()
        result = evaluate_in_blocks(problem, km, threshold=threshold, n_threads=n_threads, mode=mode,
                                    on_block=None if on_block is None else (lambda rows, m=mode: on_block(m, rows)))
        found.append(ScreenResult(mode, result, time.perf_counter() - start))
    return found
