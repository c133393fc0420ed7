"""Populations: Km sets of one parameterised model, with Vmax and lambda_max, in HDF5.

Layout (a 2-D equivalent of SKiMpy's ``ParameterValuePopulation.save``, which writes one
dataset ``parameter_set_<i>`` per set; here row i of ``parameter_values`` is that dataset)::

    parameter_names      (P,) str     Km names (model order) then vmax_forward_<reaction>
    parameter_values     (N, P) f8    model units, as SKiMpy: Km in concentration_scale x mol/L
                                      (1e9: nmol/L), Vmax in that unit per hour
    num_parameters_sets  ()    i8     N
    lambda_max           (N,)  f8     1/h (NaN: not computed, or failed)
    valid                (N,)  bool   lambda_max <= threshold
    reason               (N,)  i1     index into the attribute ``reasons``
    problem/model        ()    str    the SKiMpy YAML model, as read
    problem/steady_state ()    str    the steady state (id,kind,value CSV)
    problem/fixed_km     ()    str    the fixed/measured Km CSV (only when the problem has one)
    attrs: format = "renaissance-population", format_version (2), threshold, seed, run_dir,
           model, steady_state (where they were read from), problem (TOML: the [problem] table,
           paths relative to the population's folder, and [units]), model_sha256,
           steady_state_sha256, fixed_km_sha256, growth_reaction, concentration_scale,
           km_unit, vmax_unit, reasons, generated, stability_evaluated, network_dtype

The model and the state travel inside the file, so :func:`open_population` rebuilds the
:class:`~renaissance.parameterised.model.ParameterisedModel` from the population alone, wherever
it was moved; the digests detect an embedded text changed after writing. Populations of
version 1 (renaissance 0.3) store the training settings instead (attribute ``config``, absolute
paths) and open from those files.

:class:`PopulationWriter` streams chunks into resizable datasets; the caller writes into a
temporary file renamed at the end (:func:`renaissance._files.write_hdf5_atomic`), so memory
stays bounded and an interrupted run leaves no partial population.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import h5py
import numpy as np

from .._validation import check_int
from ..config import ConfigError, build, parse_toml, toml_text
from ..errors import ParameterFileError, RenaissanceError
from ..settings import UnitSettings
from ..stability import REASONS, back_calculate_vmax
from .model import ParameterisedModel, ProblemFiles, build_parameterised, parameterise, text_digest
from .settings import ProblemSettings, problem_from_table, problem_to_table

FORMAT = "renaissance-population"
FORMAT_VERSION = 2
VMAX_PREFIX = "vmax_forward_"
#: rows whose Vmax :func:`open_population` checks against the model (0.1 ms each for E. coli)
CHECKED_ROWS = 256
_EMBEDDED = ("model", "steady_state", "fixed_km")


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
        rows = rows[:check_int(max_models, "max_models")] if max_models is not None else rows
        if not len(rows):
            raise ParameterFileError(f"{self.source or 'population'}: no {'' if all_models else 'valid '}models")
        return rows

    @property
    def problem(self) -> ProblemSettings:
        """The problem the population was made for, paths as the file records them (version 2:
        relative to its folder; version 1: absolute); the files need not exist any more."""
        if self.attrs.get("format_version", 1) >= 2:
            data = parse_toml(self.attrs["problem"], self.source)
            base = Path(self.source).parent
        elif "config" in self.attrs:
            data, base = parse_toml(self.attrs["config"], self.source), Path("/")
        else:
            raise ParameterFileError(f"{self.source}: population without its problem (written by a version before "
                                     "0.3); generate it again")
        try:
            units = build(UnitSettings, data.get("units", {}), "units", self.source)
            return problem_from_table(data.get("problem", {}), units, base, self.source)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{self.source}: problem: {exc}") from None


class PopulationWriter:
    """Streams the rows of a population of ``model`` into an open HDF5 file ``f``.

    ``append`` adds rows; ``finish`` writes the names, the embedded problem and the attributes.
    """

    def __init__(self, f: h5py.File, model: ParameterisedModel, chunk_size: int = 20_000) -> None:
        self.f, self.model, self.written = f, model, 0
        self.names = [*model.km_names, *(VMAX_PREFIX + r for r in model.reactions)]
        n_columns = len(self.names)
        self.datasets = {"parameter_values": f.create_dataset(
            "parameter_values", (0, n_columns), maxshape=(None, n_columns),
            dtype="f8", chunks=(min(chunk_size, 1024), n_columns))}
        self.datasets.update({k: f.create_dataset(k, (0,), maxshape=(None,), dtype=dt, chunks=(min(chunk_size, 65536),))
                              for k, dt in (("lambda_max", "f8"), ("valid", "bool"), ("reason", "i1"))})

    def append(self, ln_km: np.ndarray, lambda_max: np.ndarray, valid: np.ndarray, reason: np.ndarray) -> None:
        """Append m rows: ``ln_km`` (m, n_km) ln(mol/L) is written as Km in model units followed by
        the back-calculated Vmax (m, n_rxn) in model units per hour; ``lambda_max`` (m,) 1/h,
        ``valid`` (m,) bool and ``reason`` (m,) int8 (index into :data:`REASONS`)."""
        with np.errstate(over="ignore"):
            vmax = back_calculate_vmax(self.model.stability, ln_km)
        block = np.hstack([np.exp(ln_km) * self.model.units.concentration_scale, vmax])
        for key, values in (("parameter_values", block), ("lambda_max", lambda_max), ("valid", valid),
                            ("reason", reason)):
            dataset = self.datasets[key]
            dataset.resize(self.written + len(values), axis=0)
            dataset[self.written:] = values
        self.written += len(block)

    def finish(self, path: str | os.PathLike, attrs: dict) -> None:
        """Write ``parameter_names``, ``num_parameters_sets``, the embedded problem and the file
        attributes (``attrs``: the generator's ``threshold``, ``seed``, ...); ``path`` is where the
        population will live (its problem's paths are written relative to its folder)."""
        f, model = self.f, self.model
        f.create_dataset("parameter_names", data=np.array(self.names, dtype=object), dtype=h5py.string_dtype())
        f.create_dataset("num_parameters_sets", data=np.int64(self.written))
        files = asdict(model.files)
        for key in _EMBEDDED:
            if files[key] is not None:
                f.create_dataset(f"problem/{key}", data=files[key], dtype=h5py.string_dtype())
        scale = model.units.concentration_scale
        f.attrs.update({
            "format": FORMAT, "format_version": FORMAT_VERSION, **attrs, "steady_state": model.label,
            "problem": toml_text({"problem": {} if model.settings is None else
                                  problem_to_table(model.settings, Path(path).resolve().parent),
                                  "units": asdict(model.units)}),
            **{f"{key}_sha256": digest for key, digest in model.files.digests().items()},
            "growth_reaction": model.growth_reaction or "",
            "concentration_scale": scale, "km_unit": f"{scale:g} x mol/L", "vmax_unit": f"{scale:g} x mol/L per hour",
            "reasons": list(REASONS),
        })


def read_population(path: str | os.PathLike) -> Population:
    """Read the arrays and attributes of a population file (no model is built: see :func:`open_population`)."""
    source = str(path)
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != FORMAT:
                raise ParameterFileError(f"{source}: format: not a renaissance population (attribute format = {f.attrs.get('format')!r})")
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in f["parameter_names"][()]]
            values = f["parameter_values"][()]
            scale = float(f.attrs["concentration_scale"])
            reasons = list(f.attrs["reasons"])
            lam, valid, reason = f["lambda_max"][()], f["valid"][()], f["reason"][()]
            attrs = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in f.attrs.items()}
    except (OSError, KeyError) as exc:
        raise ParameterFileError(f"{source}: cannot read population ({exc})") from None
    n = len(values)
    if values.ndim != 2 or len(names) != values.shape[1] or not (len(lam) == len(valid) == len(reason) == n):
        raise ParameterFileError(f"{source}: inconsistent shapes: parameter_values {values.shape}, {len(names)} "
                                 f"parameter_names, lambda_max {lam.shape}, valid {valid.shape}, reason {reason.shape}")
    if reason.size and (reason.min() < 0 or reason.max() >= len(reasons)):
        raise ParameterFileError(f"{source}: reason: codes outside 0..{len(reasons) - 1}")
    split = sum(not n.startswith(VMAX_PREFIX) for n in names)
    _check_km(source, names, values[:, :split])
    return Population(
        km_names=tuple(names[:split]), reactions=tuple(n.removeprefix(VMAX_PREFIX) for n in names[split:]),
        km=values[:, :split] / scale, vmax=values[:, split:], lambda_max=lam, valid=valid,
        reason=np.asarray(reasons, dtype=object)[reason], attrs=attrs, source=source)


def open_population(path: str | os.PathLike) -> tuple[Population, ParameterisedModel]:
    """A population and the :class:`ParameterisedModel` it was made for, in one call.

    Version 2 rebuilds the model from the texts embedded in the file (checked against their
    digests), so it opens wherever the file was moved; version 1 (renaissance 0.3) reads the
    files its settings (attribute ``config``) name. Either way the attributes ``model`` and
    ``steady_state`` only say where the files were read from when the population was written:
    they are never opened. A state "pointing elsewhere" is therefore, in version 2, an embedded
    state changed after writing (refused by its digest) and, in version 1, settings that name
    another state (or model) than the one the rows were made at, or a file changed since: the
    stored Vmax then differ from those the model at that state gives the stored Km, and the
    population is refused (:func:`_check_vmax`). The population's Km and Vmax names must be
    the model's, in order; every Km a finite number > 0 (:func:`read_population`).
    """
    pop = read_population(path)
    if pop.attrs.get("format_version", 1) >= 2:
        problem = pop.problem
        origin = pop.attrs.get("steady_state", "")
        model = build_parameterised(_embedded_files(path, pop), problem.units, model_source=f"{path}: problem/model",
                                    state_source=f"{path}: problem/steady_state ({origin})",
                                    fixed_source=f"{path}: problem/fixed_km", settings=problem)
    else:
        model = parameterise(pop.problem)
    for what, stored, expected in (("Km names", pop.km_names, model.km_names),
                                   ("Vmax reactions", pop.reactions, model.reactions)):
        if tuple(stored) != tuple(expected):
            differ = next((i for i, (a, b) in enumerate(zip(stored, expected)) if a != b), min(len(stored), len(expected)))
            first = [seq[differ] if differ < len(seq) else "(none)" for seq in (stored, expected)]
            raise ParameterFileError(f"{path}: parameter_names: the {what} are not the model's ({len(stored)} stored, "
                                     f"{len(expected)} in the model; first difference at column {differ}: "
                                     f"{first[0]!r} stored, {first[1]!r} in the model)")
    _check_vmax(path, pop, model)
    return pop, model


def _check_km(source: str, names: list[str], km: np.ndarray) -> None:
    """Every Km of ``km`` (N, n_km), as stored, is a finite number > 0; else one error naming
    the file, how many rows break it and the first value."""
    bad = ~(np.isfinite(km) & (km > 0))
    if bad.any():
        rows, columns = np.nonzero(bad)
        raise ParameterFileError(f"{source}: parameter_values: {len(np.unique(rows))} row(s) with Km that are not "
                                 f"finite numbers > 0 (first: row {rows[0]}, {names[columns[0]]} = "
                                 f"{float(km[rows[0], columns[0]])!r})")


def _check_vmax(path: str | os.PathLike, pop: Population, model: ParameterisedModel) -> None:
    """The stored Vmax of the first :data:`CHECKED_ROWS` rows are those ``model`` (at its state)
    gives their stored Km, to 1e-6 relative; else the Km, the Vmax, the model or the state are
    not those the population was made with, and one error says so."""
    rows = slice(0, CHECKED_ROWS)
    with np.errstate(all="ignore"):
        expected = back_calculate_vmax(model.stability, np.log(pop.km[rows]))
    stored = pop.vmax[rows]
    close = np.isclose(stored, expected, rtol=1e-6, atol=0.0, equal_nan=True)
    if not close.all():
        row, k = np.argwhere(~close)[0]
        raise ParameterFileError(
            f"{path}: parameter_values: the Vmax are not those of the model at {model.label} for the stored Km "
            f"(row {row}, {VMAX_PREFIX}{pop.reactions[k]}: stored {stored[row, k]:.6g}, model {expected[row, k]:.6g}): "
            "the values were changed, or the population was made with another model or state")


def _embedded_files(path: str | os.PathLike, pop: Population) -> ProblemFiles:
    """The problem texts embedded in a version-2 population, checked against their digests."""
    texts: dict[str, str | None] = {}
    try:
        with h5py.File(path, "r") as f:
            for key in _EMBEDDED:
                raw = f[f"problem/{key}"][()] if f"problem/{key}" in f else None
                texts[key] = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except (OSError, UnicodeDecodeError) as exc:
        raise ParameterFileError(f"{path}: cannot read the embedded problem ({exc})") from None
    for key, text in texts.items():
        stored = pop.attrs.get(f"{key}_sha256")
        if (text is None) != (stored is None) or (text is not None and text_digest(text) != stored):
            raise RenaissanceError(f"{path}: problem/{key}: does not match its digest {key}_sha256 (the file was "
                                   "changed after it was written)")
    if texts["model"] is None or texts["steady_state"] is None:
        raise ParameterFileError(f"{path}: problem: the embedded model or steady state is missing")
    return ProblemFiles(texts["model"], texts["steady_state"], texts["fixed_km"], pop.attrs.get("growth_reaction") or None)
