"""SKiMpy's parameter-population HDF5 layout (``ParameterValuePopulation.save`` /
``load_parameter_population``), read and written.

Layout (one file)::

    parameter_names       (P,) variable-length str   e.g. km_substrate1_ACALD, vmax_forward_ACALD,
                                                       k_equilibrium_ACALD
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


def population_sets(path: str | os.PathLike, rows=None) -> ParameterSets:
    """The SKiMpy parameter sets of a population file (``renaissance generate``): its Km and Vmax
    columns exactly as stored (model units), then the Keq of the state's reversible reactions
    (model units), for ``rows`` (default: all)."""
    import h5py

    from ..generator.population import read_population
    from ..generator.training import load_problem

    cm = load_problem(read_population(path).settings.problem).cm
    with h5py.File(path, "r") as f:
        names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in f["parameter_names"][()])
        values = f["parameter_values"][()]
    rows = np.arange(len(values)) if rows is None else np.asarray(rows)
    reactions = [r for r, rev in zip(cm.structure.reactions, cm.reversible) if rev]
    keq = np.exp(cm.ln_keq[cm.reversible])
    return ParameterSets((*names, *(f"k_equilibrium_{r}" for r in reactions)),
                         np.hstack([values[rows], np.tile(keq, (len(rows), 1))]), tuple(str(int(i)) for i in rows))
