"""Settings files: TOML reading and writing, and dataclasses built from TOML tables.

Every settings reader (training, landscape, km-integration) goes through here, so that every
malformed file gets the same one-line :class:`ConfigError` naming the file, the key and the
problem.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import fields

from ._files import read_text
from .errors import RenaissanceError, located

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["ConfigError", "build", "km_bounds_to_ln", "parse_toml", "read_toml", "toml_text", "tomllib"]


class ConfigError(RenaissanceError):
    """A settings file (TOML) is malformed or names unknown settings."""


def read_toml(path: str | os.PathLike) -> dict:
    """The tables of the TOML file ``path``; unreadable or malformed files raise ConfigError."""
    return parse_toml(read_text(path, ConfigError), str(path))


def parse_toml(text: str, source: str | None = None) -> dict:
    """The tables of TOML ``text`` (``source`` names it in errors)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(located(source, "TOML", str(exc))) from None


def toml_text(data: dict) -> str:
    """Minimal TOML writer for scalar keys and one level of tables of scalars/lists; ``None``
    values (unset options: TOML has no null) are left out."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict) and v is not None]
    for table, values in data.items():
        if isinstance(values, dict):
            lines += ["", f"[{table}]"] + [f"{k} = {_toml_value(v)}" for k, v in values.items() if v is not None]
    return "\n".join(lines) + "\n"


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, int) or math.isfinite(value) else str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


_ITEM_WORDS = {"int": "ints", "float": "numbers", "str": "strings"}


def build(cls, values: dict, table: str, source: str | None):
    """``cls(**values)`` for the TOML table ``[table]``: unknown keys, and text where a list
    belongs (which would be read letter by letter), raise ConfigError naming the key."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(located(source, f"[{table}] keys {unknown}", f"unknown; known: {sorted(known)}"))
    for f in fields(cls):
        if f.name in values and str(f.type).startswith("tuple[") and not isinstance(values[f.name], (list, tuple)):
            item = _ITEM_WORDS.get(str(f.type)[len("tuple["):].split(",")[0].strip(), "values")
            raise ConfigError(located(source, f"{table}.{f.name}", f"must be a list of {item}, got {values[f.name]!r}"))
    return cls(**values)


def km_bounds_to_ln(table: dict, source: str | None) -> None:
    """Replace ``km_bounds = [low, high]`` (mol/L) in a TOML table by ``ln_km_bounds`` (in place)."""
    if "km_bounds" in table:
        if "ln_km_bounds" in table:
            raise ConfigError(located(source, "generator", "give km_bounds (mol/L) or ln_km_bounds, not both"))
        low, high = table.pop("km_bounds")
        if not (0 < low < high):
            raise ConfigError(located(source, "generator.km_bounds", f"{[low, high]} must satisfy 0 < low < high (mol/L)"))
        table["ln_km_bounds"] = (math.log(low), math.log(high))
