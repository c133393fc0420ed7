"""Integration of measured Km: designs, overlap scores, and the shift of the unmeasured Km.

A *case* fixes a set of measured Km (geometric mean of the measurements +-20%, drawn uniformly in
every model; :mod:`renaissance.parameterised.fixed`), trains a generator for the others and
generates a population of valid models. Designs (the paper's):

* ``baseline`` -- nothing integrated;
* ``local`` -- every measured Km of one enzyme (its reactions, e.g. the paper's two aconitase
  reactions of the E. coli model);
* ``subsystem`` -- ``k`` of the measured Km of one subsystem, drawn at random, ``R`` combinations;
* ``control`` -- the baseline retrained with other seeds: how much populations differ without any
  integration (the null against which a design's changes are read).

Overlap score of one Km: the Jaccard index of two intervals in ln Km,
|P ∩ E| / |P ∪ E|, with P the population's 5-95% interval and E the experimental range
(0: disjoint, 1: identical). It rewards a prediction that contains the experimental range and
is as narrow as it. Shift of the unmeasured Km: each case's population against the baseline's
in ln Km: the RMS over the Km of the difference of the means (ln units), the median over the Km
of the ratio of standard deviations (case / baseline), and both projected on the baseline's
principal axes (figure).

Twin experiment (:func:`twin_measurements`): the Km of one valid model stand in for the truth;
the chosen Km are written as measurements (one value each, so +-20% ranges) and the overlap of
every other Km is scored against the truth's own +-20% range.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._files import read_text, write_text_atomic
from ..errors import ParameterFileError, RenaissanceError, SettingsError, located
from ..model.kinetic_model import KineticModel
from ..parameterised.fixed import MEASUREMENT_SPREAD, read_fixed_km
from ..parameterised.model import ParameterisedModel
from ..parameterised.population import read_population
from ..shipped import model_presets

QUANTILES = (0.05, 0.95)


def km_reaction(name: str) -> str:
    """The reaction of a Km name ``km_<role>_<reaction>`` (roles: substrate1, product2, ...)."""
    parts = name.split("_", 2)
    if len(parts) != 3 or parts[0] != "km":
        raise SettingsError(f"Km name {name!r} is not km_<role>_<reaction>")
    return parts[2]


def model_subsystems(model: KineticModel, reactions, path: str | os.PathLike | None = None) -> dict[str, str]:
    """{reaction: subsystem} of ``model``: read from ``path`` (a ``reaction,subsystem`` CSV) when
    given, else from the mapping of the model's presets (the shipped E. coli model has one,
    :func:`renaissance.shipped.model_presets`); otherwise every reaction 'Unassigned'."""
    path = model_presets(model).subsystems if path is None else path
    return read_subsystems(path, reactions) if path is not None else dict.fromkeys(reactions, "Unassigned")


def twin_measured_km(km_names, used, subsystem_of: dict[str, str], subsystem: str, enzyme: tuple[str, ...]) -> list[str]:
    """The Km a twin experiment 'measures': every used Km (``used`` (n_km,) bool) of a reaction
    of ``subsystem`` or of the ``enzyme``'s reactions, in model order."""
    return [n for n, u in zip(km_names, used)
            if u and (subsystem_of.get(km_reaction(n)) == subsystem or km_reaction(n) in enzyme)]


def twin_experiment(population, index: int, km_names, chosen, path: str | os.PathLike) -> dict[str, tuple[float, float]]:
    """Set up a twin experiment: model ``index`` of ``population`` (a read population, which must
    hold it as a valid model) stands in for the truth; its ``chosen`` Km are written to ``path``
    as measurements. Returns the truth's +-20% range of every Km (mol/L), the reference of the
    overlap scores."""
    if not (0 <= index < len(population)) or not population.valid[index]:
        raise ParameterFileError(f"{population.source}: row {index} is not a valid model")
    truth_km = population.km[index]
    write_text_atomic(path, twin_measurements(truth_km, km_names, chosen, f"twin truth: {population.source} row {index}"))
    return truth_ranges(truth_km, km_names)


def read_subsystems(path: str | os.PathLike, reactions) -> dict[str, str]:
    """``reaction,subsystem`` CSV -> {reaction: subsystem}; reactions absent from the file map to
    'Unassigned'; an unknown reaction is an error naming the file and line."""
    known = set(reactions)
    rows = list(csv.DictReader(io.StringIO(read_text(path, ParameterFileError))))
    mapping = {}
    for line, row in enumerate(rows, start=2):
        reaction, subsystem = (row.get("reaction") or "").strip(), (row.get("subsystem") or "").strip()
        if reaction not in known or not subsystem:
            raise ParameterFileError(located(str(path), f"line {line}, '{reaction}'",
                                             "unknown reaction" if reaction not in known else "missing subsystem"))
        mapping[reaction] = subsystem
    return {r: mapping.get(r, "Unassigned") for r in reactions}


@dataclass(frozen=True)
class Case:
    """One case: its name, the measured Km it fixes, and the offset added to the training seed
    (controls: the baseline retrained with another seed)."""

    name: str
    integrated: tuple[str, ...]
    seed_offset: int = 0


def design_cases(measured: list[str], subsystem_of: dict[str, str], *, enzyme: tuple[str, ...] = (),
                 subsystem: str | None = None, k: int = 0, combinations: int = 10, seed: int = 0,
                 controls: int = 0) -> list[Case]:
    """``baseline``, then ``local`` (measured Km of the reactions ``enzyme``), ``subsystem``
    cases (``k`` measured Km of ``subsystem`` at random, ``combinations`` of them, seeded) and
    ``controls`` retrained baselines (nothing fixed, training seeds + 1, + 2, ...): the change a
    design's cases must beat, since generators trained with other seeds differ on their own."""
    cases = [Case("baseline", ())]
    if enzyme:
        local = tuple(n for n in measured if km_reaction(n) in enzyme)
        if not local:
            raise SettingsError(f"no measured Km belongs to the reactions {list(enzyme)}")
        cases.append(Case("local", local))
    if subsystem is not None:
        pool = [n for n in measured if subsystem_of.get(km_reaction(n)) == subsystem]
        if not 0 < k <= len(pool):
            raise SettingsError(f"k == {k}: the subsystem '{subsystem}' has {len(pool)} measured Km")
        rng = np.random.default_rng(seed)
        for j in range(combinations):
            chosen = sorted(rng.choice(len(pool), size=k, replace=False))
            cases.append(Case(f"subsystem_{j}", tuple(pool[i] for i in chosen)))
    cases += [Case(f"control_{j}", (), seed_offset=j + 1) for j in range(controls)]
    return cases


def measurement_subset(path: str | os.PathLike, names) -> str:
    """The CSV text of the measurement file ``path`` restricted to the rows of ``names``."""
    text = read_text(path, ParameterFileError)
    reader = csv.DictReader(io.StringIO(text))
    wanted = set(names)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=reader.fieldnames, lineterminator="\n")
    writer.writeheader()
    writer.writerows(row for row in reader if (row.get("name") or "").strip() in wanted)
    return out.getvalue()


def experimental_ranges(path: str | os.PathLike, km_names) -> dict[str, tuple[float, float]]:
    """{Km name: (low, high) mol/L} of a measurement file (measurements reduced to +-20%)."""
    fixed = read_fixed_km(path, km_names)
    return {n: (float(lo), float(hi)) for n, lo, hi in zip(fixed.names, fixed.low, fixed.high)}


def twin_measurements(truth_km: np.ndarray, km_names, chosen, source: str) -> str:
    """Measurement-file CSV text: one value (the truth, mol/L) per Km in ``chosen``."""
    index = {n: i for i, n in enumerate(km_names)}
    lines = ["name,min,max,value,unit,source"]
    lines += [f"{n},,,{float(truth_km[index[n]])!r},M,{source}" for n in chosen]
    return "\n".join(lines) + "\n"


def truth_ranges(truth_km: np.ndarray, km_names) -> dict[str, tuple[float, float]]:
    """The truth's +-20% range of every Km (mol/L), as a measurement of it would give."""
    return {n: ((1 - MEASUREMENT_SPREAD) * k, (1 + MEASUREMENT_SPREAD) * k) for n, k in zip(km_names, truth_km)}


def predicted_intervals(ln_km: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """5% and 95% quantiles of ln Km per column of (N, n_km) valid sets."""
    low, high = np.quantile(ln_km, QUANTILES, axis=0)
    return low, high


def jaccard_overlap(low_a, high_a, low_b, high_b) -> np.ndarray:
    """|A ∩ B| / |A ∪ B| of intervals [low, high] (arrays broadcast); 0 when disjoint."""
    low_a, high_a, low_b, high_b = (np.asarray(a, dtype=float) for a in (low_a, high_a, low_b, high_b))
    intersection = np.clip(np.minimum(high_a, high_b) - np.maximum(low_a, low_b), 0.0, None)
    union = np.maximum(high_a, high_b) - np.minimum(low_a, low_b)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, intersection / union, 1.0)


def overlap_scores(ln_km: np.ndarray, km_names, reference: dict[str, tuple[float, float]]) -> dict[str, float]:
    """{Km: overlap score} of the population (N, n_km) ln Km against each reference range (mol/L)."""
    low, high = predicted_intervals(ln_km)
    index = {n: i for i, n in enumerate(km_names)}
    return {n: float(jaccard_overlap(low[index[n]], high[index[n]], np.log(lo), np.log(hi)))
            for n, (lo, hi) in reference.items()}


@dataclass(frozen=True)
class Shift:
    """RMS over the Km of the centroid difference (ln units) and the median over the Km of the
    ratio of standard deviations (case / baseline)."""

    centroid_distance: float
    spread_ratio: float


def unmeasured_shift(baseline: np.ndarray, case: np.ndarray) -> Shift:
    """Shift of a case's (N, m) ln Km population from the baseline's (M, m). ln units are common
    to every Km, so no rescaling (z-scores would let Km the baseline pins to a point dominate)."""
    distance = float(np.sqrt(np.mean((case.mean(axis=0) - baseline.mean(axis=0)) ** 2)))
    sd = baseline.std(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = float(np.nanmedian(np.where(sd > 0, case.std(axis=0) / sd, np.nan)))
    return Shift(distance, ratio)


def pca_projection(baseline: np.ndarray, others: list[np.ndarray], n_components: int = 2) -> list[np.ndarray]:
    """Baseline and ``others`` (ln Km) projected on the baseline's first principal axes (centred, not scaled)."""
    mean = baseline.mean(axis=0)
    _, _, Vt = np.linalg.svd(baseline - mean, full_matrices=False)
    return [(x - mean) @ Vt[:n_components].T for x in [baseline, *others]]


PCA_MARKERS = ("o", "^", "s", "D", "v", "P", "X")


def plot_pca(projections: list[np.ndarray], labels: list[str], stem, title: str | None = None) -> list:
    """PC1/PC2 scatter of the unmeasured Km's populations; PNG + SVG.

    Larger populations are drawn first and each smaller one above them (zorder by size, then
    order), larger and more opaque, each with its own marker, so a small design (e.g. ``local``, one case) is not hidden
    under a large one (``control``, many cases). ``title``: the first title line (e.g. the state)."""
    from .._plotting import pyplot, save_figure, wrapped_title

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 5.4))
    drawn, top = {}, max(len(projections) - 1, 1)
    for rank, i in enumerate(pca_draw_order(projections)):  # the later, the larger and more opaque
        points = projections[i]
        drawn[i] = ax.scatter(points[:, 0], points[:, 1], s=4 + 6 * rank / top, alpha=0.25 + 0.5 * rank / top,
                              marker=PCA_MARKERS[i % len(PCA_MARKERS)], color=f"C{i}", linewidths=0, zorder=2 + rank,
                              label=f"{labels[i]} ({len(points)} models)")
    ax.set_xlabel("PC1 of the baseline (ln Km, centred)")
    ax.set_ylabel("PC2")
    ax.set_title(wrapped_title(title or "", "Km without measurements: baseline vs integration",
                               "smaller populations drawn on top, larger markers", width=80), fontsize=9)
    legend = ax.legend(handles=[drawn[i] for i in sorted(drawn)], fontsize=7, markerscale=2.5)  # the given order
    for handle in legend.legend_handles:
        handle.set_alpha(1.0)
    fig.tight_layout()
    return save_figure(fig, stem)


def pca_draw_order(projections: list[np.ndarray]) -> list[int]:
    """Indices of ``projections`` from the largest population to the smallest (ties: given order)."""
    return sorted(range(len(projections)), key=lambda i: (-len(projections[i]), i))


def write_overlap_table(path, rows: list[dict]) -> None:
    """Write dict rows as CSV (atomic; header from the first row)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: (repr(v) if isinstance(v, float) else v) for k, v in r.items()} for r in rows)
    write_text_atomic(path, out.getvalue())


@dataclass(frozen=True)
class Design:
    """A Km-integration study's inputs: the measurements file, the reference ranges (mol/L) the
    cases are scored against, the cases, each reaction's subsystem and the designed subsystem."""

    measurements: Path
    reference: dict[str, tuple[float, float]]
    cases: list[Case]
    subsystem_of: dict[str, str]
    subsystem: str


def study_design(model: ParameterisedModel, out_dir: str | os.PathLike, *, measurements: str | os.PathLike | None = None,
                 truth: str | os.PathLike | None = None, truth_index: int = 0,
                 subsystems: str | os.PathLike | None = None, enzyme: str | None = None, subsystem: str | None = None,
                 k: int = 9, combinations: int = 10, seed: int = 0, controls: int = 0) -> Design:
    """The design of ``renaissance km-integration`` for ``model`` (without fixed Km).

    Exactly one of ``measurements`` (a measured-Km CSV) and ``truth`` (a population whose row
    ``truth_index`` stands in for the truth: a twin experiment, its chosen Km written to
    ``out_dir/twin_measurements.csv``). ``enzyme`` (comma-separated reactions) and ``subsystem``
    default to the model's presets (the paper's aconitase and TCA cycle for the shipped E. coli
    model, none otherwise); ``subsystems``: a reaction,subsystem CSV."""
    if (measurements is None) == (truth is None):
        raise RenaissanceError("give exactly one of --measurements and --truth")
    km_names = list(model.km_names)
    presets = model_presets(model.cm.model)
    subsystem_of = model_subsystems(model.cm.model, model.reactions, subsystems)
    enzymes = tuple(e for e in (",".join(presets.enzyme) if enzyme is None else enzyme).split(",") if e)
    design_subsystem = presets.subsystem if subsystem is None else subsystem
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if truth is not None:
        chosen = twin_measured_km(km_names, model.used, subsystem_of, design_subsystem, enzymes)
        measured = out / "twin_measurements.csv"
        reference = twin_experiment(read_population(truth), truth_index, km_names, chosen, measured)
    else:
        measured = Path(measurements)
        reference = experimental_ranges(measured, km_names)
    cases = design_cases(list(experimental_ranges(measured, km_names)), subsystem_of, enzyme=enzymes,
                         subsystem=design_subsystem if k and design_subsystem else None, k=k,
                         combinations=combinations, seed=seed, controls=controls)
    return Design(measured, reference, cases, subsystem_of, design_subsystem)
