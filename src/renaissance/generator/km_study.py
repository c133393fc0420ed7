"""Run a Km-integration study: one training and one valid population per case, then the scores.

Layout of ``OUT``::

    OUT/<case>/measured_km.csv    the case's measurements (absent for the baseline)
    OUT/<case>/run/               the training run (an interrupted run resumes, a finished one is
                              reused; a run with other settings or measurements is an error)
    OUT/<case>/population.h5      valid models of the case's generator
    OUT/overlap.csv               case, Km, reaction, subsystem, integrated, overlap score
    OUT/summary.csv               per design and Km: baseline vs integrated overlap, improved
    OUT/subsystems.csv            per design and subsystem: mean overlaps, Km improved
    OUT/shift.csv                 per case: shift of the unmeasured Km from the baseline
    OUT/pca.png|svg               PC1/PC2 of the unmeasured Km, baseline vs cases
    OUT/twin_measurements.csv     the 'measured' Km of a twin experiment (--truth)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .._files import write_text_atomic
from ..analysis.km_integration import (
    Case,
    km_reaction,
    measurement_subset,
    overlap_scores,
    pca_projection,
    plot_pca,
    unmeasured_shift,
    write_overlap_table,
)
from ..errors import RenaissanceError
from ..parameterised.model import ParameterisedModel
from .population import generate_population, read_population
from .settings import TrainSettings, settings_to_dict
from .training import CONFIG, FINAL, load_run_settings, train

#: what ``renaissance km-integration`` writes into its --out folder (see the layout above)
OUTPUTS = ("baseline", "local", "subsystem_*", "control_*", "twin_measurements.csv", "overlap.csv", "summary.csv",
           "subsystems.csv", "shift.csv", "pca.png", "pca.svg")


@dataclass(frozen=True)
class CaseResult:
    case: Case
    ln_km: np.ndarray  # (N, n_km) valid models of the case's population
    outside_range: int  # integrated Km values outside their ranges, over all models (must be 0)


@dataclass(frozen=True)
class StudyReport:
    results: list[CaseResult]
    summary: list[dict]
    shifts: list[dict]

    def improved(self, design: str, inside: bool) -> tuple[int, int]:
        """(improved, scored) Km of a design ('local', 'subsystem'), inside or outside the subsystem."""
        rows = [r for r in self.summary
                if r["design"] == design and r["in_subsystem"] == inside and r["cases_scored"] > 0]
        return sum(r["improved"] for r in rows), len(rows)

    def overlapping(self, design: str, inside: bool) -> tuple[float, float]:
        """Fraction of the scored Km whose predicted and reference ranges overlap at all:
        (baseline, mean over the design's cases)."""
        rows = [r for r in self.summary
                if r["design"] == design and r["in_subsystem"] == inside and r["cases_scored"] > 0]
        if not rows:
            return float("nan"), float("nan")
        return (float(np.mean([r["baseline_overlaps"] for r in rows])),
                float(np.mean([r["integrated_overlaps"] for r in rows])))

    @property
    def designs(self) -> list[str]:
        return list(dict.fromkeys(r["design"] for r in self.summary))


def run_case(settings: TrainSettings, model: ParameterisedModel, case: Case, measurements, case_dir: Path,
             n_models: int, seed: int, on_generation: Callable[[dict], None] | None = None) -> CaseResult:
    """Train (or reuse) the case's generator and generate ``n_models`` valid models (``model``:
    the problem without fixed Km)."""
    case_dir.mkdir(parents=True, exist_ok=True)
    run_dir = case_dir / "run"
    path = case_dir / "measured_km.csv"
    text = None
    if case.integrated:
        text = measurement_subset(measurements, case.integrated)
        if (run_dir / CONFIG).exists() and (not path.exists() or path.read_text(encoding="utf-8") != text):
            raise RenaissanceError(f"{case_dir}: holds a run with other measurements; use another output directory")
        write_text_atomic(path, text)
        settings = replace(settings, problem=replace(settings.problem, fixed_km=str(path.resolve())))
    else:
        settings = replace(settings, problem=replace(settings.problem, fixed_km=None))
    settings = replace(settings, seed=settings.seed + case.seed_offset)
    if (run_dir / CONFIG).exists() and settings_to_dict(load_run_settings(run_dir)) != settings_to_dict(settings):
        raise RenaissanceError(f"{run_dir}: holds a run with other training settings; use another output directory")
    case_model = model.with_fixed(text, str(path), settings.problem)
    if not (run_dir / FINAL).exists():
        train(settings, run_dir, resume=(run_dir / CONFIG).exists(), on_generation=on_generation, model=case_model)
    population = case_dir / "population.h5"
    if not population.exists():
        generate_population(run_dir, n_models, population, seed=seed, valid_only=True, model=case_model)
    pop = read_population(population)
    ln_km = np.log(pop.km[pop.valid])
    if len(ln_km) < 2:
        raise RenaissanceError(f"{population}: {len(ln_km)} valid models; the case's generator needs more training")
    outside = 0
    if case.integrated:
        fixed = case_model.fixed
        km = np.exp(ln_km[:, fixed.columns])
        outside = int(np.sum((km < fixed.low * (1 - 1e-12)) | (km > fixed.high * (1 + 1e-12))))
    return CaseResult(case, ln_km, outside)


def km_integration_study(settings: TrainSettings, model: ParameterisedModel, measurements: str | os.PathLike,
                         cases: list[Case], reference: dict[str, tuple[float, float]], subsystem_of: dict[str, str],
                         subsystem: str, out_dir: str | os.PathLike, *, n_models: int = 1000, seed: int = 0,
                         on_case: Callable[[CaseResult], None] | None = None) -> StudyReport:
    """Run every case (the first must be the baseline) and score it against ``reference``
    ({Km: (low, high) mol/L}); Km of ``subsystem`` count as inside. ``model``: the problem of
    ``settings`` without fixed Km (:func:`renaissance.parameterised.parameterise`)."""
    out = Path(out_dir)
    km_names, used = list(model.km_names), model.used
    results = []
    for case in cases:
        result = run_case(settings, model, case, measurements, out / case.name, n_models, seed)
        results.append(result)
        if on_case is not None:
            on_case(result)
    reference = {n: r for n, r in reference.items() if used[km_names.index(n)]}
    overlap = [overlap_scores(r.ln_km, km_names, reference) for r in results]
    rows = [{"case": r.case.name, "km": n, "reaction": km_reaction(n), "subsystem": subsystem_of.get(km_reaction(n), ""),
             "integrated": n in r.case.integrated, "overlap": o[n]} for r, o in zip(results, overlap) for n in reference]
    write_overlap_table(out / "overlap.csv", rows)
    summary = _summary(results, overlap, reference, subsystem_of, subsystem)
    write_overlap_table(out / "summary.csv", summary)
    write_overlap_table(out / "subsystems.csv", _per_subsystem(summary))
    measured = set().union(*(r.case.integrated for r in results))
    unmeasured = np.array([i for i, n in enumerate(km_names) if used[i] and n not in measured])
    base = results[0].ln_km[:, unmeasured]
    shifts = [{"case": r.case.name, **vars(unmeasured_shift(base, r.ln_km[:, unmeasured]))} for r in results[1:]]
    if shifts:
        write_overlap_table(out / "shift.csv", shifts)
    projections = pca_projection(base, [r.ln_km[:, unmeasured] for r in results[1:]])
    designs = list(dict.fromkeys(design_of(r.case) for r in results))  # one colour per design
    plot_pca([np.vstack([p for p, r in zip(projections, results) if design_of(r.case) == d]) for d in designs],
             designs, out / "pca", title=f"model {model.cm.model.name} at {model.state_name}")
    return StudyReport(results, summary, shifts)


def design_of(case: Case) -> str:
    """'local', 'subsystem' (every ``subsystem_<j>``), 'control' (every ``control_<j>``) or the case's name."""
    return case.name.split("_")[0] if case.name.startswith(("subsystem_", "control_")) else case.name


def _summary(results: list[CaseResult], overlap: list[dict], reference, subsystem_of, subsystem: str) -> list[dict]:
    """Per design and reference Km: baseline overlap and the mean overlap over the design's cases
    that did not integrate the Km; whether the ranges overlap at all (baseline) and the fraction of
    those cases in which they do."""
    rows = []
    for design in dict.fromkeys(design_of(r.case) for r in results[1:]):
        members = [(r, o) for r, o in zip(results[1:], overlap[1:]) if design_of(r.case) == design]
        for n in reference:
            scored = [o[n] for r, o in members if n not in r.case.integrated]
            mean = float(np.mean(scored)) if scored else float("nan")
            rows.append({"design": design, "km": n, "subsystem": subsystem_of.get(km_reaction(n), ""),
                         "in_subsystem": subsystem_of.get(km_reaction(n)) == subsystem, "baseline": overlap[0][n],
                         "integrated_mean": mean, "cases_scored": len(scored),
                         "improved": bool(scored) and mean > overlap[0][n],
                         "baseline_overlaps": overlap[0][n] > 0,
                         "integrated_overlaps": float(np.mean([o > 0 for o in scored])) if scored else float("nan")})
    return rows


def _per_subsystem(summary: list[dict]) -> list[dict]:
    """Per design and subsystem: Km scored in some case of the design, their mean overlaps (NaN:
    none scored) and how many improved."""
    rows = []
    for design, name in sorted({(r["design"], r["subsystem"]) for r in summary}):
        members = [r for r in summary if (r["design"], r["subsystem"]) == (design, name) and r["cases_scored"] > 0]
        rows.append({"design": design, "subsystem": name, "km": len(members),
                     "baseline_mean": float(np.mean([r["baseline"] for r in members])) if members else float("nan"),
                     "integrated_mean": float(np.mean([r["integrated_mean"] for r in members])) if members else float("nan"),
                     "improved": sum(r["improved"] for r in members)})
    return rows
