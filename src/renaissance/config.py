"""Settings files: one reader for every settings, constraints and medium file (TOML or YAML),
TOML writing, and dataclasses built from tables.

Every settings file (training and landscape TOML, constraints and medium YAML) is read by
:func:`read_config` and its tables become settings dataclasses through :func:`build`, so that
every malformed file gets the same one-line :class:`ConfigError` (or the subclass its reader
asks for: :class:`~renaissance.errors.ConstraintsError`, :class:`~renaissance.errors.MediumError`)
naming the file, the key and the problem.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import fields
from pathlib import Path

import yaml

from ._files import read_text
from .errors import ConfigError, RenaissanceError, SettingsError, located

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "FORMATS", "ConfigError", "build", "km_bounds_to_ln", "parse_config", "parse_toml", "read_config",
    "parse_yaml", "refuse_unknown", "toml_text", "tomllib",
]

#: settings-file formats by suffix (any other suffix: the reader's default)
FORMATS = {".toml": "toml", ".yaml": "yaml", ".yml": "yaml"}


def read_config(path: str | os.PathLike, error: type[ConfigError] = ConfigError, *, default: str = "toml") -> dict:
    """The settings in the file ``path``, a dict, parsed by its suffix (:data:`FORMATS`; others:
    ``default``, ``"toml"`` or ``"yaml"``).

    YAML is read with ``yaml.safe_load`` semantics, duplicate keys refused; an empty file is {}.
    An unreadable file, bad syntax or a top level that is not a mapping raise one ``error``
    naming the file.
    """
    return parse_config(read_text(path, error), str(path), FORMATS.get(Path(path).suffix.lower(), default), error)


def parse_config(text: str, source: str | None, fmt: str = "toml", error: type[ConfigError] = ConfigError) -> dict:
    """The settings in ``text`` of format ``fmt`` (``"toml"`` or ``"yaml"``; ``source`` names it
    in errors), as :func:`read_config`."""
    data = parse_toml(text, source, error) if fmt == "toml" else parse_yaml(text, source, error)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise error(located(source, "top level", f"expected a mapping of settings, got {type(data).__name__}"))
    return data


def parse_toml(text: str, source: str | None = None, error: type[ConfigError] = ConfigError) -> dict:
    """The tables of TOML ``text`` (``source`` names it in errors)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(located(source, "TOML", str(exc))) from None


class _DuplicateKey(Exception):
    """A mapping names one key twice (raised inside the loader, reported by :func:`parse_yaml`)."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys instead of keeping the last one."""

    def construct_mapping(self, node, deep=False):  # noqa: D102
        keys = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in keys:
                raise _DuplicateKey(f"duplicate key {key!r} at line {key_node.start_mark.line + 1}")
            keys.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str, source: str | None, error: type[RenaissanceError] = ConfigError) -> object:
    """YAML ``text`` read safely (``yaml.safe_load`` semantics, no Python tags), duplicate keys
    refused; a syntax error or a duplicate key is one ``error`` naming ``source``."""
    source = source or "YAML"
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as exc:
        raise error(f"{source}: {exc}") from None
    except yaml.YAMLError as exc:
        raise error(f"{source}: malformed YAML: {exc}") from None


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


def build(cls, values: dict, table: str, source: str | None, error: type[ConfigError] = ConfigError):
    """``cls(**values)`` for the table ``[table]`` of the settings file ``source``.

    Unknown keys, text where a list belongs (which would be read letter by letter) and any value
    the class's declared rules refuse raise one ``error`` naming the file and the key.
    """
    refuse_unknown(values, [f.name for f in fields(cls) if f.init], table, source, error=error)
    for f in fields(cls):
        optional = values.get(f.name) is None and "None" in str(f.type)
        if f.name in values and str(f.type).startswith("tuple[") and not optional \
                and not isinstance(values[f.name], (list, tuple)):
            item = _ITEM_WORDS.get(str(f.type)[len("tuple["):].split(",")[0].strip(), "values")
            raise error(located(source, f"{table}.{f.name}", f"must be a list of {item}, got {values[f.name]!r}"))
    try:
        return cls(**values)
    except SettingsError as exc:
        raise error(located(source, "settings", str(exc))) from None


def refuse_unknown(values: dict, known, table: str, source: str | None, shown=None,
                   error: type[ConfigError] = ConfigError) -> None:
    """Raise ConfigError naming the keys of ``values`` (the table ``[table]``; "": the top level)
    that are not in ``known`` (``shown``: the known keys as the file spells them, default ``known``)."""
    if not isinstance(values, dict):
        raise error(located(source, f"[{table}]" if table else "top level", f"must be a table of settings, got {values!r}"))
    unknown = sorted(set(values) - set(known))
    if unknown:
        where = f"[{table}] keys {unknown}" if table else f"keys {unknown}"
        raise error(located(source, where, f"unknown; known: {sorted(known if shown is None else shown)}"))


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
