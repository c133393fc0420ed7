"""Landscape report: maps, separating ranges, and the constrained-resampling check.

:func:`landscape_report` turns a scored landscape into ``ranges.csv`` (every concentration, dG/RT and
pool turnover rate ranked for two questions: *fast* = admits lambda_max <= threshold, among all states;
*robust* = at least half of the tested valid models returned, among admitting states),
``ranges_fast`` / ``ranges_robust`` figures, ``embedding.csv`` and the polar ``map`` figure.
:func:`constrain` builds sampler settings from the strongest separating ranges (or their
complements), for the paper's closing check: do newly sampled states that obey them admit fast
dynamics more often?
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .._files import write_text_atomic
from ..errors import RenaissanceError, SettingsError
from ..model import compile_model, load_model
from ..settings import VALID_LAMBDA_MAX
from ..steadystate import read_samples
from ..steadystate.constraints import model_constraints
from ..steadystate.sampler import sample_steady_states
from ..steadystate.samples_io import write_samples
from ..steadystate.settings import TFASettings
from .landscape import (
    CONFIG,
    TABLE,
    Landscape,
    landscape_study,
    load_landscape_settings,
    read_landscape,
    read_landscape_inputs,
)
from .maps import (
    StateMatrix,
    neighbour_agreement,
    pca_features,
    plot_map,
    polar_transform,
    state_matrix,
    tsne_embedding,
)
from .ranges import SAMPLER_KINDS, Separation, plot_ranges, ranges_csv, separating_ranges

ROBUST_FRACTION = 0.5
#: what ``renaissance landscape-check`` writes into the landscape folder
CHECK_OUTPUTS = ("check_inside", "check_outside")
#: what ``renaissance landscape`` writes into its --out folder (the table, its settings and inputs, the
#: ranges, the map; the checks of an earlier landscape, which a new one makes stale)
OUTPUTS = ("landscape.csv", "landscape.toml", "landscape.*.json", "ranges.csv", "ranges_fast.png", "ranges_fast.svg",
           "ranges_robust.png", "ranges_robust.svg", "embedding.csv", "map.png", "map.svg", *CHECK_OUTPUTS)


@dataclass(frozen=True)
class LandscapeReport:
    fast: list[Separation]
    robust: list[Separation]
    neighbours: tuple[float, float] | None  # (observed, expected) same-class share of 10 nearest neighbours
    files: list[Path]


def landscape_report(matrix: StateMatrix, table: Landscape, out_dir: str | os.PathLike, *, threshold: float = VALID_LAMBDA_MAX,
                     seed: int = 0, maps: bool = True) -> LandscapeReport:
    """Write the ranges, the map and the embedding of a scored landscape (``matrix`` rows = table rows)."""
    out = Path(out_dir)
    admits = table.column("admits").astype(bool)
    robust_fraction = table.column("robust_fraction")
    tested = admits & np.isfinite(robust_fraction)
    fast = separating_ranges(matrix, admits)
    robust = separating_ranges(matrix, robust_fraction >= ROBUST_FRACTION, mask=tested)
    write_text_atomic(out / "ranges.csv", ranges_csv({"fast": fast, "robust": robust}))
    files = [out / "ranges.csv"]
    if fast:
        files += plot_ranges(fast, "admits fast dynamics", "does not", out / "ranges_fast")
    if robust:
        files += plot_ranges(robust, f"robust (>= {ROBUST_FRACTION:g} returned)", "not robust", out / "ranges_robust")
    neighbours = None
    if maps and len(table.rows) >= 10:
        embedding = tsne_embedding(pca_features(matrix), seed=seed)
        theta, r = polar_transform(embedding)
        lines = ["state,tsne_1,tsne_2,theta,r"] + [
            f"{row['state']},{e[0]!r},{e[1]!r},{t!r},{q!r}" for row, e, t, q in zip(table.rows, embedding, theta, r)]
        write_text_atomic(out / "embedding.csv", "\n".join(lines) + "\n")
        files.append(out / "embedding.csv")
        files += plot_map(theta, r, table.column("best_lambda_max"), robust_fraction, threshold, out / "map")
        if 0 < admits.sum() < len(admits):
            neighbours = neighbour_agreement(embedding, admits)
    return LandscapeReport(fast, robust, neighbours, files)


def constrain(settings: TFASettings, separations: list[Separation], supporting: bool = True) -> TFASettings:
    """``settings`` with each separation's range imposed: the side of its threshold where the
    positive class lies (``supporting``) or the other side; intersected with the existing bounds."""
    species_bounds, dg_bounds = dict(settings.species_bounds), dict(settings.dg_bounds)
    for s in separations:
        if s.kind not in SAMPLER_KINDS:
            raise SettingsError(f"{s.feature}: a {s.kind} range cannot be imposed on the sampler")
        below = (s.direction == "below") == supporting
        if s.kind == "concentration":
            lo, hi = species_bounds.get(s.feature, settings.concentration_bounds)
            species_bounds[s.feature] = (lo, min(hi, s.threshold)) if below else (max(lo, s.threshold), hi)
        else:
            lo, hi = dg_bounds.get(s.feature, (-math.inf, math.inf))
            dg_bounds[s.feature] = (lo, min(hi, s.threshold)) if below else (max(lo, s.threshold), hi)
    return replace(settings, species_bounds=species_bounds, dg_bounds=dg_bounds)


@dataclass(frozen=True)
class CheckCase:
    """One row of the closing check: ``admitting`` fraction of ``n`` states."""

    label: str
    admitting: float
    n: int


def closing_check(landscape_dir: str | os.PathLike, constraints: str | os.PathLike | None = None, *, n: int = 200,
                  top: int = 1, seed: int = 1, n_workers: int | None = None, resume: bool = False,
                  on_state: Callable[[str], None] | None = None) -> tuple[list[CheckCase], float]:
    """The paper's closing check of a scored landscape in ``landscape_dir``: sample ``n`` new
    states under ``constraints`` inside the ``top`` strongest separating ranges of the fast
    question (and, separately, outside them) and score them as the landscape was scored.
    ``constraints`` defaults to the model's (:func:`~renaissance.steadystate.constraints.model_constraints`).

    Each case goes to ``landscape_dir/check_inside`` resp. ``check_outside`` (``states.csv``,
    ``landscape.csv``; ``resume`` continues interrupted tables). Returns the cases (the scored
    landscape first) and the search threshold (1/h); ``on_state(case)`` follows each scored state.
    """
    landscape_dir = Path(landscape_dir)
    inputs = read_landscape_inputs(landscape_dir)
    settings = load_landscape_settings(landscape_dir / CONFIG)
    cm = compile_model(load_model(inputs["model"]))
    table = read_landscape(landscape_dir)
    scored = read_samples(inputs["states"])
    matrix = state_matrix(cm, [scored[int(r["state"])] for r in table.rows], settings.units)
    chosen = [s for s in separating_ranges(matrix, table.column("admits").astype(bool)) if s.kind in SAMPLER_KINDS][:top]
    if not chosen:
        raise RenaissanceError(f"{landscape_dir}: every state is in one class; nothing separates them")
    base, _ = model_constraints(cm, constraints)
    cases = [CheckCase("scored landscape", table.admitting_fraction, len(table.rows))]
    for supporting in (True, False):
        name = "inside" if supporting else "outside"
        sample = sample_steady_states(cm, constrain(base, chosen, supporting), n, seed=seed)
        case_dir = landscape_dir / f"check_{name}"
        case_dir.mkdir(parents=True, exist_ok=True)
        if not resume:
            (case_dir / TABLE).unlink(missing_ok=True)
        write_samples(sample, case_dir / "states.csv")
        result = landscape_study(cm, [sample.state(i) for i in range(len(sample))], settings, case_dir,
                                 n_workers=n_workers, resume=resume,
                                 on_state=None if on_state is None else lambda _, case=name: on_state(case))
        cases.append(CheckCase(f"{name} " + " & ".join(s.describe() for s in chosen), result.admitting_fraction,
                               len(sample)))
    return cases, settings.search.threshold
