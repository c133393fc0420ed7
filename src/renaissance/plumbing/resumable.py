"""A resumable study: results appended to a CSV as each item finishes, settings kept beside it.

Every study of this package (robustness, bioreactor, landscape) runs many independent items
(models or states, each known by an int index) and writes each item's rows to one CSV the moment
it finishes, flushed, so a study killed at any point keeps every finished item and loses at most
the ones in flight. What the rows hold (columns, units) is the study's: see its docstring.
:meth:`ResultTable.run` does that for all of them:

* fresh start: the table is written anew (header only) and the settings saved beside it;
* ``resume``: the settings saved beside the table must equal the given ones (else
  :class:`ResumeError`, naming each setting that differs, with the table untouched); the finished
  items are read back (:func:`.streaming.finished_rows`: complete items only, the rest of the file
  dropped), skipped, and only the others run;
* the remaining items run through the caller's ``run(todo, record)`` (a process pool, Ray, a
  plain loop) and ``record`` appends each finished item's rows and calls ``on_item`` (progress).

The settings file is ``<table stem>.settings.json`` (e.g. ``runs.settings.json`` beside
``runs.csv``): the settings that change the rows, nested tables as JSON objects. A table without
one (written by an older version) resumes without a comparison and gets one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np

from .._files import read_text, write_text_atomic
from ..errors import RenaissanceError
from .streaming import csv_text, finished_rows, map_models

R = TypeVar("R")
#: ``run(todo, record)``: compute every item of ``todo`` and call ``record(result)`` as each finishes
Runner = Callable[[list[tuple], Callable[[R], None]], None]
RESTART = "run without --resume to start again"


class ResumeError(RenaissanceError):
    """A study cannot be resumed: its saved settings differ from the given ones."""


def setting_changes(saved: Mapping, current: Mapping) -> list[str]:
    """``"name old -> new"`` for every setting that differs (nested tables: dotted names;
    ``(none)`` for a setting one side lacks), in the order of ``current``."""
    old, new = _flat(saved), _flat(current)
    names = list(new) + [n for n in old if n not in new]
    return [f"{n} {_show(old.get(n, _NONE))} -> {_show(new.get(n, _NONE))}"
            for n in names if n not in old or n not in new or old[n] != new[n]]


def refuse_changed_settings(where, saved: Mapping, current: Mapping, remedy: str = RESTART) -> None:
    """Raise :class:`ResumeError` ``"<where>: cannot resume: settings differ from the saved run
    (<changes>); <remedy>"`` unless ``saved`` and ``current`` are the same settings (as JSON:
    a tuple equals a list)."""
    changes = setting_changes(_plain(saved), _plain(current))
    if changes:
        raise ResumeError(f"{where}: cannot resume: settings differ from the saved run ({', '.join(changes)}); "
                          f"{remedy}")


def array_digest(*arrays) -> str:
    """A short SHA-256 digest (16 hex digits) of the arrays' float64 values: saved with a study's
    settings so that resuming from another steady state is refused too."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array, dtype=np.float64).tobytes())
    return digest.hexdigest()[:16]


def in_pool(function: Callable, context, n_workers: int | None) -> Runner:
    """A runner calling ``function(context, *task)`` in a process pool (:func:`.streaming.map_models`)."""
    return lambda todo, record: map_models(function, context, todo, n_workers, record)


@dataclass(frozen=True)
class Finished(Generic[R]):
    """``results``: {index: result} of every finished item (resumed ones rebuilt from their rows),
    in file order, then finishing order; ``ran``: how many items this call ran."""

    results: dict[int, R]
    ran: int


@dataclass(frozen=True)
class ResultTable(Generic[R]):
    """How one study stores its results (see the module docstring).

    ``header``: the CSV columns, the first an item's int index. ``to_rows(result)``: the rows of
    one finished item (``rows_per_item`` of them, first cell its index); ``from_rows(index,
    rows)``: the result back from those rows (as read, strings). ``key(result)``: its index.
    ``settings``: JSON-able settings that change the rows (``None``: the caller keeps them).
    """

    path: Path
    header: Sequence[str]
    to_rows: Callable[[R], Iterable[Iterable]]
    from_rows: Callable[[int, list[list[str]]], R]
    key: Callable[[R], int]
    rows_per_item: int = 1
    settings: Mapping | None = None

    @property
    def settings_path(self) -> Path:
        return self.path.with_name(f"{self.path.stem}.settings.json")

    def run(self, items: Iterable[tuple], run: Runner, *, resume: bool = False,
            on_item: Callable[[R], None] | None = None) -> Finished[R]:
        """Run the ``items`` (tuples, first element the index) not finished yet; see the module docstring."""
        done = self._start(resume)
        todo = [item for item in items if int(item[0]) not in done]
        with open(self.path, "a", encoding="utf-8", newline="") as stream:
            def record(result: R) -> None:
                stream.write(csv_text(self.to_rows(result)))
                stream.flush()
                done[self.key(result)] = result
                if on_item is not None:
                    on_item(result)

            run(todo, record)
        return Finished(done, len(todo))

    def _start(self, resume: bool) -> dict[int, R]:
        """The finished items when resuming (settings checked first), else {} and a new table."""
        header = list(self.header)
        done: dict[int, R] = {}
        if resume and self.path.exists():
            if self.settings is not None and self.settings_path.exists():
                refuse_changed_settings(self.path.parent, self._saved(), self.settings)
            rows = finished_rows(self.path, header, self.rows_per_item)
            done = {index: self.from_rows(index, r) for index, r in rows.items()}
        else:
            write_text_atomic(self.path, csv_text([header]))
        if self.settings is not None:  # after the table: a kill in between leaves old settings, no rows
            write_text_atomic(self.settings_path, json.dumps(_plain(self.settings), indent=2) + "\n")
        return done

    def _saved(self) -> dict:
        try:
            saved = json.loads(read_text(self.settings_path, ResumeError))
        except ValueError as exc:
            raise ResumeError(f"{self.settings_path}: unreadable settings ({exc}); {RESTART}") from None
        if not isinstance(saved, dict):
            raise ResumeError(f"{self.settings_path}: unreadable settings (not a JSON object); {RESTART}")
        return saved


_NONE = object()


def _plain(settings: Mapping) -> dict:
    """``settings`` as JSON reads it back (tuples as lists, numpy scalars and arrays as numbers)."""
    return json.loads(json.dumps(settings, default=_numpy_value))


def _numpy_value(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"setting {value!r} ({type(value).__name__}) is not JSON-able")


def _flat(settings: Mapping, prefix: str = "") -> dict:
    out = {}
    for name, value in settings.items():
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = value
    return out


def _show(value) -> str:
    """A setting's value for a message: long lists shortened, strings in lists quoted."""
    if value is _NONE:
        return "(none)"
    if not isinstance(value, list):
        return str(value)
    items = [repr(v) if isinstance(v, str) else _show(v) for v in value]
    if len(items) > 4:
        return f"[{items[0]}, {items[1]}, ..., {items[-1]}] ({len(items)} values)"
    return f"[{', '.join(items)}]"
