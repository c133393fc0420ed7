"""Exception hierarchy: every error names the file, the entity and the problem."""

from __future__ import annotations

import os


class RenaissanceError(Exception):
    """Base class of every error raised on purpose by this package."""


class ModelFormatError(RenaissanceError):
    """A kinetic-model file (SKiMpy YAML) is malformed or inconsistent."""


class SteadyStateError(RenaissanceError):
    """A steady-state table is incomplete, non-physical or violates thermodynamics."""


class ParameterFileError(RenaissanceError):
    """A parameter table (e.g. a Km CSV) has unknown names or invalid values."""


class SettingsError(RenaissanceError, ValueError):
    """A setting or argument value breaks its declared rule (names the setting, the value and the
    rule). A ``ValueError`` too, so callers that catch ``ValueError`` keep working."""


class ConfigError(RenaissanceError):
    """A settings file (TOML or YAML) is unreadable, malformed or names unknown settings."""


class ConstraintsError(ConfigError):
    """A constraints file (steady-state bounds, YAML) is malformed or names unknown entities."""


class MediumError(ConfigError):
    """A bioreactor medium file (YAML) is malformed or names species or reactions the model lacks."""


class StructureError(RenaissanceError):
    """At a steady state the model has a mode that no parameter set can move (a structural zero
    eigenvalue): no model can be valid there."""


class OutputError(RenaissanceError):
    """An output path cannot be written (exists, is a directory, no permission, disk full)."""


class InfeasibleError(RenaissanceError):
    """An optimisation problem (flux balance / thermodynamics) has no solution."""


class MeasurementError(RenaissanceError):
    """A measured-experiment file (time courses to compare simulations with) is malformed or names
    series the model cannot simulate."""


def os_problem(exc: OSError) -> str:
    """What went wrong in an OS error, in words (``"No space left on device"``)."""
    return os.strerror(exc.errno) if exc.errno else str(exc)


def os_error_message(exc: OSError) -> str:
    """``"<file>: <problem>"`` for an OS error (just the problem when it names no file)."""
    return f"{exc.filename}: {os_problem(exc)}" if exc.filename is not None else os_problem(exc)


def located(source: str | None, entity: str, problem: str) -> str:
    """Format ``"<source>: <entity>: <problem>"`` (source omitted when unknown)."""
    return f"{source}: {entity}: {problem}" if source else f"{entity}: {problem}"
