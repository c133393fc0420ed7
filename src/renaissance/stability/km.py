"""Km tables: CSV read/write with validation, and random log-uniform Km sets."""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path

import numpy as np

from .._files import read_text, write_text_atomic
from ..errors import ParameterFileError, SettingsError, located
from ..settings import KM_BOUNDS, KM_WINDOW


def read_km_table(path: str | os.PathLike, km_names, required=None) -> np.ndarray:
    """Read a Km CSV (header: Km names; one row per set; mol/L) aligned with ``km_names``.

    Columns may come in any order. Unknown names, a missing name from ``required`` (default:
    all ``km_names``), and values that are not finite and > 0 are errors naming the file, row
    and column; so is a file with a header and no rows ("no Km sets"). Absent optional columns
    are filled with 1.0 (they enter no rate).

    Returns
    -------
    ndarray, shape (B, len(km_names)), mol/L
    """
    rows = list(csv.reader(io.StringIO(read_text(path, ParameterFileError))))
    if not rows:
        raise ParameterFileError(located(str(path), "header", "file is empty"))
    header = [h.strip() for h in rows[0]]
    index = {name: i for i, name in enumerate(km_names)}
    unknown = [h for h in header if h not in index]
    if unknown:
        raise ParameterFileError(located(str(path), f"columns {unknown[:5]}", f"unknown Km names ({len(unknown)} in all)"))
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise ParameterFileError(located(str(path), f"columns {dupes[:5]}", "duplicate Km names"))
    required = list(km_names if required is None else required)
    missing = [name for name in required if name not in header]
    if missing:
        raise ParameterFileError(located(str(path), f"Km {missing[:5]}", f"missing column ({len(missing)} in all)"))
    if len(rows) == 1:
        raise ParameterFileError(f"{path}: no Km sets in {Path(path).name} (a header and no rows; one row per set)")
    km = np.ones((len(rows) - 1, len(km_names)))
    columns = [index[h] for h in header]
    for r, row in enumerate(rows[1:]):
        if len(row) != len(header):
            raise ParameterFileError(located(str(path), f"row {r + 1}", f"has {len(row)} fields, header has {len(header)}"))
        for field, col, name in zip(row, columns, header):
            km[r, col] = parse_km_value(field, str(path), f"row {r + 1}, '{name}'")
    return km


def parse_km_value(field: str, source: str, where: str, prefix: str = "value ", unit: float = 1.0,
                   unit_name: str = "mol/L") -> float:
    """The number in the text ``field`` of a Km file, in the file's unit (``unit`` mol/L, named
    ``unit_name``): finite, > 0 and, in mol/L, inside :data:`~renaissance.settings.KM_WINDOW`;
    otherwise a ``ParameterFileError`` naming ``source``, ``where``, the value and the rule."""
    try:
        value = float(field)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ParameterFileError(located(source, where, f"{prefix}{field!r} must be a finite number > 0"))
    low, high = KM_WINDOW
    if not low <= value * unit <= high:
        given = f"{prefix}{field!r} {unit_name}" + (f" = {value * unit:.3g} mol/L" if unit != 1 else "")
        raise ParameterFileError(located(source, where, f"{given} is outside the physical range {low:g}..{high:g} "
                                                        "mol/L (a typo or a wrong unit?)"))
    return value


def read_model_constants(path: str | os.PathLike, km_names, concentration_scale: float,
                         required=None) -> np.ndarray:
    """The constants stored in a SKiMpy YAML model's ``parameters`` (e.g. SKiMpy's varma_strain
    files, Km in µM: ``concentration_scale`` = 1e6), as one Km set in mol/L.

    ``km_names`` are the constants of the model they are evaluated with; those in ``required``
    (default: all) must be numbers > 0 in the file, the others default to 1 mol/L x scale.

    Returns
    -------
    ndarray, shape (1, len(km_names)), mol/L
    """
    from ..model.io import read_yaml

    data = read_yaml(path)
    parameters = data.get("parameters") if isinstance(data, dict) else None
    if not isinstance(parameters, dict):
        raise ParameterFileError(f"{path}: no 'parameters' mapping: not a SKiMpy YAML model")
    required = set(km_names if required is None else required)
    missing = [n for n in km_names if n in required and parameters.get(n) is None]
    if missing:
        raise ParameterFileError(located(str(path), f"parameters {missing[:5]}", f"missing or null ({len(missing)} in all): "
                                                                                "the file does not carry these constants"))
    unit = f"(1/{concentration_scale:g} mol/L)"
    values = [parse_km_value(str(parameters.get(n, concentration_scale)), str(path), f"parameter '{n}'",
                             unit=1 / concentration_scale, unit_name=unit) for n in km_names]
    return np.array(values)[None] / concentration_scale


def write_km_table(path: str | os.PathLike, km: np.ndarray, km_names) -> None:
    """Write Km sets (B, n_km; mol/L) as CSV with full precision (atomic)."""
    lines = [",".join(km_names)] + [",".join(repr(float(v)) for v in row) for row in np.asarray(km)]
    write_text_atomic(path, "\n".join(lines) + "\n")


def sample_log_uniform_km(n_sets: int, n_km: int, bounds=KM_BOUNDS, seed=None) -> np.ndarray:
    """Km sets with ln Km uniform in ln(bounds) (mol/L): shape (n_sets, n_km)."""
    low, high = bounds
    if not (0 < low < high):
        raise SettingsError(f"bounds == {bounds!r}, must satisfy 0 < low < high (mol/L)")
    rng = np.random.default_rng(seed)
    return np.exp(rng.uniform(np.log(low), np.log(high), size=(n_sets, n_km)))
