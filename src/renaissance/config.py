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
        optional = values.get(f.name) is None and "None" in str(f.type)
        if f.name in values and str(f.type).startswith("tuple[") and not optional \
                and not isinstance(values[f.name], (list, tuple)):
            item = _ITEM_WORDS.get(str(f.type)[len("tuple["):].split(",")[0].strip(), "values")
            raise ConfigError(located(source, f"{table}.{f.name}", f"must be a list of {item}, got {values[f.name]!r}"))
    return cls(**values)


def km_bounds_to_ln(table: dict, source: str | None, kinds=("km",)) -> None:
    """Replace ``<kind>_bounds = [low, high]`` (mol/L) in a TOML table by ``ln_<kind>_bounds``
    (in place), for each of ``kinds`` (``km``; the generator also takes ``ki`` and ``ka``)."""
    for kind in kinds:
        key = f"{kind}_bounds"
        if key in table:
            if f"ln_{key}" in table:
                raise ConfigError(located(source, "generator", f"give {key} (mol/L) or ln_{key}, not both"))
            bounds = table.pop(key)
            if not (isinstance(bounds, (list, tuple)) and len(bounds) == 2 and 0 < bounds[0] < bounds[1]):
                raise ConfigError(located(source, f"generator.{key}", f"{bounds} must be [low, high] with 0 < low < high (mol/L)"))
            table[f"ln_{key}"] = (math.log(bounds[0]), math.log(bounds[1]))
