"""Declared settings: every settings dataclass declares each field's rule once, beside its default,
and one validator checks them all (as scikit-learn declares ``_parameter_constraints`` once per
estimator and validates them in one place).

A settings class derives from :class:`Declared`, names its table and declares its fields with
:func:`setting` (default, rule)::

    @dataclass(frozen=True, kw_only=True)
    class NESSettings(Declared, table="nes"):
        generations: int = setting(50, Int(0))                     # an int >= 0
        sigma: float = setting(0.002, POSITIVE)                     # a finite number > 0
        shaping: str = setting("centered_rank", Choice(SHAPINGS))
        target_lambda: float | None = setting(None, OrNone(Float()))
        antithetic: bool = True                                     # no rule: not checked

        def _check(self) -> None:   # cross-field rules, run after every field's own rule
            ...

``Declared.__post_init__`` runs :func:`validate` at every construction (``dataclasses.replace``
included): each field's rule checks its value under the name ``<table>.<field>`` and raises
:class:`~renaissance.errors.SettingsError` naming it, the value and the rule; a rule may store a
normalised value (a pair as a tuple of floats). A setting that several classes share is one
:class:`Declaration` (rule and default), used as ``perturbation: float = PERTURBATION.field()``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from types import MappingProxyType
from typing import ClassVar

from ._validation import check_choice, check_float, check_int, check_interval, check_range
from .errors import SettingsError

__all__ = [
    "NON_NEGATIVE", "POSITIVE", "Choice", "Declaration", "Declared", "Each", "Float", "Int", "Interval",
    "OrNone", "Pair", "Range", "Rule", "Table", "Text", "declared_rules", "setting", "validate",
]

#: the key of a field's rule in its dataclass metadata
RULE = "renaissance.rule"


class Rule:
    """A declared rule of one setting."""

    def check(self, value, name: str):
        """The value to store (``value`` itself, or a normalised copy); raise SettingsError naming
        ``name``, the value and the rule when ``value`` breaks the rule."""
        raise NotImplementedError


@dataclass(frozen=True)
class Int(Rule):
    """An int >= ``min_value`` and, when given, <= ``max_value`` (bools refused)."""

    min_value: int = 1
    max_value: int | None = None

    def check(self, value, name: str):
        check_int(value, name, min_value=self.min_value, max_value=self.max_value)
        return value


@dataclass(frozen=True)
class Float(Rule):
    """A finite number in [low, high] (an end open when asked)."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False

    def check(self, value, name: str):
        check_float(value, name, low=self.low, high=self.high, low_open=self.low_open, high_open=self.high_open)
        return value


#: a finite number > 0, and one >= 0
POSITIVE = Float(0.0, low_open=True)
NON_NEGATIVE = Float(0.0)


@dataclass(frozen=True)
class Choice(Rule):
    """One of ``choices``."""

    choices: tuple

    def check(self, value, name: str):
        return check_choice(value, name, self.choices)


@dataclass(frozen=True)
class Range(Rule):
    """A pair (low, high) of finite numbers with low < high, stored as a tuple of floats."""

    def check(self, value, name: str):
        return check_range(value, name)


@dataclass(frozen=True)
class Interval(Rule):
    """A pair (lo, hi) with lo <= hi, neither NaN; ``finite``: both ends finite; ``positive``: lo > 0."""

    positive: bool = False
    finite: bool = True

    def check(self, value, name: str):
        check_interval(value, name, positive=self.positive, finite=self.finite)
        return value


@dataclass(frozen=True)
class Text(Rule):
    """A non-empty string; ``what`` says what it names (``"a reaction id"``)."""

    what: str

    def check(self, value, name: str):
        if not isinstance(value, str) or not value:
            raise SettingsError(f"{name} == {value!r}, must be {self.what}")
        return value


@dataclass(frozen=True)
class OrNone(Rule):
    """None (the setting is off or unset), or a value that obeys ``rule``."""

    rule: Rule

    def check(self, value, name: str):
        return None if value is None else self.rule.check(value, name)


@dataclass(frozen=True)
class Each(Rule):
    """A non-empty list of ``what`` (plural: ``"layer widths"``), stored as a tuple, whose items
    obey ``item`` (named ``<name>[]``); ``cast`` converts each checked item; ``increasing``: in
    non-decreasing order."""

    item: Rule
    what: str
    cast: Callable | None = None
    increasing: bool = False

    def check(self, value, name: str):
        listed = isinstance(value, Iterable) and not isinstance(value, (str, bytes, Mapping))
        items = tuple(value) if listed else ()
        if not items:
            raise SettingsError(f"{name} == {value!r}, must be a non-empty list of {self.what}")
        for item in items:
            self.item.check(item, f"{name}[]")
        if self.cast is not None:
            items = tuple(self.cast(item) for item in items)
        if self.increasing and list(items) != sorted(items):
            raise SettingsError(f"{name} == {items}, must be in increasing order")
        return items


@dataclass(frozen=True)
class Pair(Rule):
    """A pair whose two parts, named ``<name>.<names[0]>`` and ``<name>.<names[1]>``, obey ``rule``."""

    names: tuple[str, str]
    rule: Rule

    def check(self, value, name: str):
        if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
            raise SettingsError(f"{name} == {value!r}, must be a pair ({', '.join(self.names)})")
        for part, item in zip(self.names, value):
            self.rule.check(item, f"{name}.{part}")
        return value


@dataclass(frozen=True)
class Table(Rule):
    """A mapping key -> value whose values obey ``value`` (named ``<name>[key]``); ``read_only``:
    stored as a read-only copy."""

    value: Rule
    read_only: bool = False

    def check(self, value, name: str):
        if not isinstance(value, Mapping):
            raise SettingsError(f"{name} == {value!r}, must be a mapping key -> value")
        for key, item in value.items():
            self.value.check(item, f"{name}[{key!r}]")
        return MappingProxyType(dict(value)) if self.read_only else value


def setting(default=MISSING, rule: Rule | None = None, *, factory=MISSING) -> Field:
    """The dataclass field of a setting: its ``default`` (or default ``factory``) and its ``rule``
    (None: not checked)."""
    return field(default=default, default_factory=factory, metadata={RULE: rule})


class Declaration:
    """A setting that several settings classes share, declared once: its rule and its default
    (none: each class gives its own)."""

    def __init__(self, rule: Rule, default=MISSING) -> None:
        self.rule, self.default = rule, default

    def __repr__(self) -> str:
        return f"Declaration({self.rule!r}, {self.default!r})"

    def field(self, default=MISSING) -> Field:
        """The field of a class that has this setting (``default``: this class's own default)."""
        return setting(self.default if default is MISSING else default, self.rule)


class Declared:
    """Base of the settings dataclasses: checks every declared rule at construction.

    ``class X(Declared, table="nes")`` names the fields ``nes.<field>`` in messages (no table:
    top-level keys, named by the field alone). Cross-field rules go in :meth:`_check`.
    """

    _table: ClassVar[str] = ""

    def __init_subclass__(cls, table: str | None = None, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if table is not None:
            cls._table = table

    def __post_init__(self) -> None:
        validate(self)

    def _check(self) -> None:
        """Rules between fields, run after each field's own; raise SettingsError. None by default."""

    @classmethod
    def _qualified(cls, name: str) -> str:
        """``<table>.<name>``, the name a message gives the field ``name``."""
        return f"{cls._table}.{name}" if cls._table else name


def validate(settings: Declared) -> None:
    """Check every declared field of ``settings`` (storing normalised values), then its cross-field
    rules; the first broken rule raises SettingsError."""
    for f in fields(settings):
        rule = f.metadata.get(RULE)
        if rule is not None:
            value = getattr(settings, f.name)
            checked = rule.check(value, settings._qualified(f.name))
            if checked is not value:
                object.__setattr__(settings, f.name, checked)
    settings._check()


def declared_rules(cls) -> dict[str, Rule]:
    """{field: rule} of a settings class (its declared fields only)."""
    return {f.name: f.metadata[RULE] for f in fields(cls) if f.metadata.get(RULE) is not None}
