"""Files of sampled steady states: one row per state, one column per quantity.

Columns: ``state``, ``pattern``, ``flux:<reaction>`` (mmol/gDW/h) for every reaction,
``concentration:<species>`` (mol/L) for every species, ``dg_rt:<reaction>`` (dG/RT, derived,
ignored on reading) for every reaction with a thermodynamic Keq (reversible ones and
irreversible ones with a stored ``k_equilibrium_<r>``) and, when the sampler varied Keq,
``k_equilibrium:<reaction>`` (model units) for each varied reaction. Floats are written
with ``repr`` (shortest exact round trip). ``.csv`` always works; ``.parquet`` needs the
optional ``pyarrow``.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .._files import write_atomic, write_text_atomic
from ..errors import SettingsError, SteadyStateError, located
from .sampler import StateSample
from .table import SteadyState

_PREFIXES = ("flux", "concentration", "dg_rt", "k_equilibrium")


def sample_columns(sample: StateSample) -> tuple[list[str], np.ndarray]:
    """(header, values (n, n_columns)) of ``sample`` in file order (state and pattern as floats)."""
    reversible = ~np.isnan(sample.dg).all(axis=0) if len(sample) else np.zeros(len(sample.reactions), bool)
    header = (["state", "pattern"] + [f"flux:{r}" for r in sample.reactions]
              + [f"concentration:{s}" for s in sample.species]
              + [f"dg_rt:{r}" for r, rev in zip(sample.reactions, reversible) if rev]
              + [f"k_equilibrium:{r}" for r in sample.varied_keq])
    parts = [np.arange(len(sample))[:, None], sample.pattern[:, None], sample.fluxes,
             np.exp(sample.ln_concentrations), sample.dg[:, reversible]]
    if sample.varied_keq:
        index = {r: k for k, r in enumerate(sample.reactions)}
        parts.append(np.exp(sample.ln_keq[:, [index[r] for r in sample.varied_keq]]))
    return header, np.hstack([np.asarray(a, dtype=float) for a in parts])


def write_samples(sample: StateSample, path: str | os.PathLike) -> None:
    """Write ``sample`` to ``path`` (``.csv``, or ``.parquet`` with pyarrow), atomically."""
    path = Path(path)
    header, values = sample_columns(sample)
    if path.suffix.lower() == ".parquet":
        _write_parquet(header, values, path)
        return
    lines = [",".join(header)]
    for row in values.tolist():
        lines.append(f"{int(row[0])},{int(row[1])}," + ",".join(map(repr, row[2:])))
    write_text_atomic(path, "\n".join(lines) + "\n")


def _pyarrow(path: Path):
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise SteadyStateError(f"{path}: parquet needs the optional package pyarrow (not installed); "
                               "use a .csv path or install pyarrow") from None
    return pa, pq


def _write_parquet(header: list[str], values: np.ndarray, path: Path) -> None:
    pa, pq = _pyarrow(path)
    columns = {name: (values[:, i].astype(np.int64) if i < 2 else values[:, i]) for i, name in enumerate(header)}
    table = pa.table(columns)
    write_atomic(path, lambda tmp: pq.write_table(table, tmp))


def _check_header(header: list[str] | None, source: str) -> None:
    if not header or header[:2] != ["state", "pattern"]:
        raise SteadyStateError(located(source, "header", f"expected 'state,pattern,...', got {(header or [])[:3]!r}"))
    seen = set()
    for name in header[2:]:
        prefix, _, ident = name.partition(":")
        if prefix not in _PREFIXES or not ident:
            raise SteadyStateError(located(source, f"column '{name}'", f"expected one of {[p + ':<id>' for p in _PREFIXES]}"))
        if name in seen:
            raise SteadyStateError(located(source, f"column '{name}'", "duplicate column"))
        seen.add(name)


def _state(header: list[str], row: list, source: str, line: int) -> SteadyState:
    """The SteadyState of one data row (``line``: 1-based line number in the file)."""
    if len(row) != len(header):
        raise SteadyStateError(located(source, f"line {line}", f"expected {len(header)} fields, got {len(row)}"))
    tables: dict[str, dict[str, float]] = {p: {} for p in _PREFIXES}
    for name, raw in zip(header[2:], row[2:]):
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise SteadyStateError(located(source, f"line {line}, column '{name}'", f"value {raw!r} is not a number")) from None
        if not math.isfinite(value):
            raise SteadyStateError(located(source, f"line {line}, column '{name}'", f"value {raw!r} is not finite"))
        prefix, _, ident = name.partition(":")
        tables[prefix][ident] = value
    return SteadyState(tables["concentration"], tables["flux"], f"{source}: state {row[0]}", tables["k_equilibrium"])


def _rows(path: Path) -> Iterator[tuple[list[str], list, int]]:
    """(header, raw row, line number) of every data row; the header is checked first."""
    source = str(path)
    if path.suffix.lower() == ".parquet":
        header, rows = _read_parquet(path)
        _check_header(header, source)
        for i, row in enumerate(rows):
            yield header, row, i + 2
        return
    try:
        handle = open(path, newline="", encoding="utf-8")
    except OSError as exc:
        raise SteadyStateError(f"{path}: cannot read file ({exc.strerror})") from None
    with handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        _check_header(header, source)
        for row in reader:
            if row:
                yield header, row, reader.line_num


def _read_parquet(path: Path) -> tuple[list[str], list[list]]:
    _, pq = _pyarrow(path)
    try:
        table = pq.read_table(path)
    except OSError as exc:
        raise SteadyStateError(f"{path}: cannot read file ({exc})") from None
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return list(table.column_names), [list(r) for r in zip(*columns)]


def iter_samples(path: str | os.PathLike) -> Iterator[SteadyState]:
    """The states of a samples file, one at a time (a CSV is read lazily)."""
    path = Path(path)
    for header, row, line in _rows(path):
        yield _state(header, row, str(path), line)


def read_samples(path: str | os.PathLike) -> list[SteadyState]:
    """Every state of a samples file, in file order."""
    return list(iter_samples(path))


def read_sample_state(path: str | os.PathLike, index: int) -> SteadyState:
    """State ``index`` (0-based data row) of a samples file; the other rows are not parsed."""
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
        raise SettingsError(f"index == {index!r}, must be an int >= 0")
    path = Path(path)
    count = 0
    for header, row, line in _rows(path):
        if count == index:
            return _state(header, row, str(path), line)
        count += 1
    raise SteadyStateError(located(str(path), f"state {index}", f"no such row (the file has {count} states)"))
