"""SKiMpy's parameter-population HDF5 layout (``ParameterValuePopulation.save`` /
``load_parameter_population``), read and written.

Layout (one file)::

    parameter_names       (P,) variable-length str   e.g. km_substrate1_R1, vmax_forward_R1,
                                                       k_equilibrium_R1
    num_parameters_sets   scalar int                 N
    index                 (N,) variable-length str   optional labels of the sets (SKiMpy >= 0.9)
    parameter_set_<i>     (P,) float64, i = 0..N-1   one dataset per set, values in model units

Values are in the model's units, as SKiMpy stores them: Km and Keq in the model's concentration
unit (Km here: mol/L x ``concentration_scale``), Vmax in concentration per hour.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .._files import write_hdf5_atomic
from ..errors import ParameterFileError, located
from ..model.kinetic_model import KineticModel


@dataclass(frozen=True)
class ParameterSets:
    """``names`` (P,), ``values`` (N, P) model units, ``index`` (N,) labels."""

    names: tuple[str, ...]
    values: np.ndarray
    index: tuple[str, ...]


def write_skimpy_population(path: str | os.PathLike, sets: ParameterSets) -> None:
    """Write ``sets`` in SKiMpy's layout (atomic)."""
    import h5py

    string = h5py.special_dtype(vlen=str)

    def write(f, check_written):
        f.create_dataset("parameter_names", data=np.array(sets.names, dtype=object), dtype=string)
        f.create_dataset("num_parameters_sets", data=len(sets.values))
        f.create_dataset("index", data=np.array(sets.index, dtype=object), dtype=string)
        for i, row in enumerate(np.asarray(sets.values, dtype=np.float64)):
            f.create_dataset(f"parameter_set_{i}", data=row)
            check_written()

    write_hdf5_atomic(path, write)


def read_skimpy_population(path: str | os.PathLike) -> ParameterSets:
    """Read a SKiMpy population file (``index`` optional); errors name the file and dataset."""
    import h5py

    source = str(path)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ParameterFileError(located(source, "HDF5", str(exc))) from None
    with f:
        for key in ("parameter_names", "num_parameters_sets"):
            if key not in f:
                raise ParameterFileError(located(source, f"dataset '{key}'", "missing: not a SKiMpy population"))
        names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in f["parameter_names"][()])
        n = int(f["num_parameters_sets"][()])
        values = np.empty((n, len(names)))
        for i in range(n):
            key = f"parameter_set_{i}"
            if key not in f or f[key].shape != (len(names),):
                raise ParameterFileError(located(source, f"dataset '{key}'", f"missing or not of length {len(names)}"))
            values[i] = f[key][()]
        index = (tuple(x.decode() if isinstance(x, bytes) else str(x) for x in f["index"][()]) if "index" in f
                 else tuple(str(i) for i in range(n)))
    return ParameterSets(names, values, index)


@dataclass(frozen=True)
class ImportedConstants:
    """The constants of a model read from SKiMpy parameter sets.

    ``km`` (N, n_km) mol/L in ``km_names`` order (Michaelis, inhibition and activation
    constants); ``known`` counts the other names of the file by what they are for this model
    (Vmax, Keq, concentrations, fixed parameters); ``unplaced`` lists the names it does not know.
    """

    km: np.ndarray
    km_names: list[str]
    known: dict[str, int]
    unplaced: list[str]


def import_constants(sets: ParameterSets, model: KineticModel, km_names, required, concentration_scale: float,
                     source: str | None = None) -> ImportedConstants:
    """Place the names of ``sets`` in ``model``: every constant in ``required`` must be there
    (the others default to 1 mol/L); values are divided by ``concentration_scale`` (the file's
    concentration unit per mol/L) and must be finite and > 0."""
    index = {n: i for i, n in enumerate(sets.names)}
    missing = [n for n in required if n not in index]
    if missing:
        raise ParameterFileError(located(source, f"constants {missing[:5]}", f"not in parameter_names ({len(missing)} "
                                                                             "in all): sets of another model?"))
    km = np.ones((len(sets.values), len(km_names)))
    for j, name in enumerate(km_names):
        if name in index:
            km[:, j] = sets.values[:, index[name]] / concentration_scale
    bad = np.argwhere(~(np.isfinite(km) & (km > 0)))
    if len(bad):
        row, col = bad[0]
        raise ParameterFileError(located(source, f"set {sets.index[row]}, '{km_names[col]}'",
                                         f"value {km[row, col] * concentration_scale!r} must be a finite number > 0"))
    known, unplaced, constants = {}, [], set(km_names)
    fixed = {p for r in model.reactions.values() for p in r.fixed_parameter_names}
    for name in sets.names:
        if name in constants:
            continue
        kind = _parameter_kind(name, model, fixed)
        if kind is None:
            unplaced.append(name)
        else:
            known[kind] = known.get(kind, 0) + 1
    return ImportedConstants(km, list(km_names), known, unplaced)


def _parameter_kind(name: str, model: KineticModel, fixed: set[str]) -> str | None:
    """What a non-constant parameter name is for ``model`` (None: unknown to it); ``fixed``: the
    names of its fixed parameters (Hill coefficients, a_max)."""
    for prefix, kind in (("vmax_forward_", "Vmax"), ("k_equilibrium_", "Keq")):
        if name.startswith(prefix) and name[len(prefix):] in model.reactions:
            return kind
    if name in model.species:
        return "concentrations"
    if name in fixed:
        return "fixed parameters"
    return "other model parameters" if name in model.parameters else None


def population_sets(path: str | os.PathLike, rows=None) -> ParameterSets:
    """The SKiMpy parameter sets of a population file (``renaissance generate``): its Km and Vmax
    columns exactly as stored (model units), then the Keq of the state's reversible reactions
    (model units), for ``rows`` (default: all)."""
    import h5py

    from ..parameterised.population import open_population

    cm = open_population(path)[1].cm
    with h5py.File(path, "r") as f:
        names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in f["parameter_names"][()])
        values = f["parameter_values"][()]
    rows = np.arange(len(values)) if rows is None else np.asarray(rows)
    reactions = [r for r, rev in zip(cm.structure.reactions, cm.reversible) if rev]
    keq = np.exp(cm.ln_keq[cm.reversible])
    return ParameterSets((*names, *(f"k_equilibrium_{r}" for r in reactions)),
                         np.hstack([values[rows], np.tile(keq, (len(rows), 1))]), tuple(str(int(i)) for i in rows))
