"""Fixed and measured Km: excluded from the generator, drawn uniformly in a range per model.

File format (CSV, one header row; columns in any order)::

    name,min,max,value,unit,source
    km_substrate1_R1,0.5,0.9,,mM,a range
    km_substrate1_R2,,,0.13,mM,BRENDA 1
    km_substrate1_R2,,,0.16,mM,BRENDA 2

``name`` and ``unit`` (M, mM, uM, µM or nM) are required. A row gives either a range
(``min``, ``max``) or one measurement (``value``); several measurement rows of one Km are reduced
to their geometric mean g and the range [0.8 g, 1.2 g] (the paper's +-20%, also for a single
value). A Km may not have both a range and measurements. Every model draws each fixed Km
uniformly (in Km, not ln Km, as the reference) in its range.
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass

import numpy as np

from .._files import read_text
from ..errors import ParameterFileError, located
from ..stability.km import parse_km_value

UNITS = {"M": 1.0, "mM": 1e-3, "uM": 1e-6, "µM": 1e-6, "nM": 1e-9}
MEASUREMENT_SPREAD = 0.2


@dataclass(frozen=True)
class FixedKm:
    """Km excluded from the generator: ``columns`` index ``km_names``; ranges in mol/L, (n_fixed,)."""

    names: tuple[str, ...]
    columns: np.ndarray
    low: np.ndarray
    high: np.ndarray

    def free_columns(self, n_km: int) -> np.ndarray:
        """Indices of the Km the generator emits, in ``km_names`` order."""
        return np.setdiff1d(np.arange(n_km), self.columns)


def no_fixed_km() -> FixedKm:
    return FixedKm((), np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0))


def read_fixed_km(path: str | os.PathLike, km_names) -> FixedKm:
    """Read a fixed/measured Km file (see the module docstring) against the model's Km names."""
    return parse_fixed_km(read_text(path, ParameterFileError), km_names, str(path))


def parse_fixed_km(text: str, km_names, source: str) -> FixedKm:
    """The fixed/measured Km of CSV ``text`` (``source`` names it in errors)."""
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows:
        raise ParameterFileError(f"{source}: no fixed Km (an empty file, or a header and no rows; one row per Km: "
                                 "name,min,max,value,unit,source)")
    index = {name: i for i, name in enumerate(km_names)}
    ranges: dict[str, tuple[float, float]] = {}
    measured: dict[str, list[float]] = {}
    for line, row in enumerate(rows, start=2):
        name = (row.get("name") or "").strip()
        where = f"line {line}, '{name}'"
        if name not in index:
            raise ParameterFileError(located(source, where, "unknown Km name" if name else "missing name"))
        unit = (row.get("unit") or "").strip()
        if unit not in UNITS:
            raise ParameterFileError(located(source, where, f"unit {unit!r} unknown; known: {sorted(UNITS)}"))
        scale = UNITS[unit]
        low, high, value = (_number(row.get(k), source, where, k, unit) for k in ("min", "max", "value"))
        if value is not None and low is None and high is None:
            measured.setdefault(name, []).append(value * scale)
        elif value is None and low is not None and high is not None and low < high:
            if name in ranges:
                raise ParameterFileError(located(source, where, "range given twice"))
            ranges[name] = (low * scale, high * scale)
        else:
            raise ParameterFileError(located(source, where, "give either min < max or value"))
    both = sorted(set(ranges) & set(measured))
    if both:
        raise ParameterFileError(located(source, f"Km {both[:5]}", "has both a range and measurements"))
    for name, values in measured.items():
        g = math.exp(np.mean(np.log(values)))
        ranges[name] = ((1 - MEASUREMENT_SPREAD) * g, (1 + MEASUREMENT_SPREAD) * g)
    names = tuple(sorted(ranges, key=index.__getitem__))
    return FixedKm(
        names,
        np.array([index[n] for n in names], dtype=np.int64),
        np.array([ranges[n][0] for n in names]),
        np.array([ranges[n][1] for n in names]),
    )


def _number(field: str | None, source: str, where: str, key: str, unit: str) -> float | None:
    """The value of column ``key`` in the row's ``unit`` (inside the physical Km range), None when
    the cell is empty."""
    if field is None or not field.strip():
        return None
    return parse_km_value(field, source, f"{where}, {key}", prefix="", unit=UNITS[unit], unit_name=unit)
