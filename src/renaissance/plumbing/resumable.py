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

The inputs file is ``<table stem>.inputs.json``: what the rows are computed from, by digest
(:class:`Inputs`): the study's (the model, the files it came from) and each item's own (a
model's Km and Vmax, a state), by index. A resume is refused when a study digest differs or an
item of both runs has other inputs (e.g. another population, another states file), naming them;
items only one run has are free, so a resume may run more (or fewer) items than the first run.
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
from ..errors import OutputError, RenaissanceError, os_problem
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


def refuse_changed_inputs(where, saved: Mapping, current: Mapping, label: str, remedy: str = RESTART) -> None:
    """Raise :class:`ResumeError` ``"<where>: cannot resume: inputs differ from the saved run
    (<changes>); <remedy>"`` when a study digest differs or an item index of both has another digest.

    ``saved``, ``current``: ``{"study": {name: digest}, "items": {index: digest}}`` (indices as
    strings); ``label`` names the items in the message (e.g. ``"Km/Vmax of models"``)."""
    changes = setting_changes(_object(saved.get("study")), current["study"])
    before = _object(saved.get("items"))
    differ = [index for index, digest in current["items"].items() if index in before and before[index] != digest]
    if differ:
        shown = ", ".join(differ[:3]) + (f" and {len(differ) - 3} more" if len(differ) > 3 else "")
        changes.append(f"{label} {shown}")
    if changes:
        raise ResumeError(f"{where}: cannot resume: inputs differ from the saved run ({', '.join(changes)}); {remedy}")


def array_digest(*arrays) -> str:
    """A short SHA-256 digest (16 hex digits) of the arrays' float64 values: saved with a study's
    settings so that resuming from another steady state is refused too."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array, dtype=np.float64).tobytes())
    return digest.hexdigest()[:16]


def model_digest(cm) -> str:
    """A short SHA-256 digest (16 hex digits) of a compiled model's rate laws: its ids and every
    array its rates are computed from (equal digests: equal rates at every state)."""
    arrays = (cm.structure.S, cm.structure.S_boundary, cm.structure.weights, cm.forward, cm.backward, cm.ln_keq,
              cm.prefactor, cm.mono_x, cm.mono_km, cm.mono_term, cm.term_coef, cm.term_power, cm.term_fac,
              cm.fac_exponent, cm.fac_rxn)
    names = json.dumps([list(cm.species), list(cm.structure.reactions), list(cm.km_names),
                        [np.shape(a) for a in arrays]])
    return hashlib.sha256((names + array_digest(*arrays)).encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Inputs:
    """What a study's rows are computed from, by digest (see the module docstring).

    ``study``: {name: digest} of what every item depends on (the model, its files);
    ``item(item) -> digest``: one item's own inputs (the tuple :meth:`ResultTable.run` gets);
    ``label``: the items in messages (e.g. ``"Km/Vmax of models"``, ``"states"``)."""

    study: Mapping[str, str]
    item: Callable[[tuple], str]
    label: str = "items"

    def digests(self, items: Iterable[tuple]) -> dict:
        """``{"study": ..., "items": {index: digest}}`` of ``items`` (as the inputs file holds them)."""
        return {"study": dict(self.study), "items": {str(int(item[0])): self.item(item) for item in items}}


def population_inputs(cm, files: Mapping[str, str] | None = None) -> Inputs:
    """The inputs of a study over a population's models (items ``(index, km, vmax, ...)``): the
    digest of the compiled model ``cm`` and of the files it came from (``files``: name -> SHA-256,
    e.g. ``ParameterisedModel.files.digests()``), and each model's Km and Vmax."""
    study = {"model": model_digest(cm), **{f"{name}_file": digest[:16] for name, digest in (files or {}).items()}}
    return Inputs(study, _km_vmax_digest, "Km/Vmax of models")


def _km_vmax_digest(item: tuple) -> str:
    return array_digest(item[1], item[2])


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
    ``inputs``: the digests of what the rows are computed from (``None``: not compared).
    """

    path: Path
    header: Sequence[str]
    to_rows: Callable[[R], Iterable[Iterable]]
    from_rows: Callable[[int, list[list[str]]], R]
    key: Callable[[R], int]
    rows_per_item: int = 1
    settings: Mapping | None = None
    inputs: Inputs | None = None

    @property
    def settings_path(self) -> Path:
        return self.path.with_name(f"{self.path.stem}.settings.json")

    @property
    def inputs_path(self) -> Path:
        return self.path.with_name(f"{self.path.stem}.inputs.json")

    def run(self, items: Iterable[tuple], run: Runner, *, resume: bool = False,
            on_item: Callable[[R], None] | None = None) -> Finished[R]:
        """Run the ``items`` (tuples, first element the index) not finished yet; see the module docstring."""
        items = list(items)
        done = self._start(resume, items)
        todo = [item for item in items if int(item[0]) not in done]
        with open(self.path, "ab", buffering=0) as stream:  # unbuffered: nothing left to flush at close
            def record(result: R) -> None:
                self._append(stream, csv_text(self.to_rows(result)))
                done[self.key(result)] = result
                if on_item is not None:
                    on_item(result)

            run(todo, record)
        return Finished(done, len(todo))

    def _append(self, stream, text: str) -> None:
        """Append ``text`` to the open table, all of it; an OS error (the disk full) becomes one
        :class:`OutputError` naming the table (the items recorded before it are kept)."""
        data = memoryview(text.encode("utf-8"))
        try:
            while data:
                data = data[stream.write(data):]
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot write file ({os_problem(exc)}); the items finished before are "
                              "kept: make room and run again with --resume") from None

    def refuse_changes(self, items: Iterable[tuple], remedy: str = RESTART) -> None:
        """Before resuming: :class:`ResumeError` when the saved settings or inputs differ from
        this table's for ``items`` (nothing is read back or written); nothing to compare: no error."""
        if not self.path.exists():
            return
        if self.settings is not None and self.settings_path.exists():
            refuse_changed_settings(self.path.parent, self._saved(self.settings_path), self.settings, remedy)
        if self.inputs is not None and self.inputs_path.exists():
            refuse_changed_inputs(self.path.parent, self._saved(self.inputs_path, "inputs"), self.inputs.digests(items),
                                  self.inputs.label, remedy)

    def _start(self, resume: bool, items: list[tuple]) -> dict[int, R]:
        """The finished items when resuming (settings and inputs checked first), else {} and a new table."""
        header = list(self.header)
        done: dict[int, R] = {}
        resuming = resume and self.path.exists()
        if resuming:
            self.refuse_changes(items)
            rows = finished_rows(self.path, header, self.rows_per_item)
            done = {index: self.from_rows(index, r) for index, r in rows.items()}
        else:
            write_text_atomic(self.path, csv_text([header]))
        if self.settings is not None:  # after the table: a kill in between leaves old settings, no rows
            write_text_atomic(self.settings_path, json.dumps(_plain(self.settings), indent=2) + "\n")
        if self.inputs is not None:
            self._save_inputs(items, resuming)
        return done

    def _save_inputs(self, items: list[tuple], resuming: bool) -> None:
        """Write the inputs file: the study digests and every item's, those of a resumed run's
        other items kept (they may be finished)."""
        digests = self.inputs.digests(items)
        if resuming and self.inputs_path.exists():
            digests["items"] = {**_object(self._saved(self.inputs_path, "inputs").get("items")), **digests["items"]}
        write_text_atomic(self.inputs_path, json.dumps(digests, indent=1) + "\n")

    def _saved(self, path: Path, what: str = "settings") -> dict:
        """The JSON object of a settings or inputs file (unreadable: :class:`ResumeError`)."""
        try:
            saved = json.loads(read_text(path, ResumeError))
        except ValueError as exc:
            raise ResumeError(f"{path}: unreadable {what} ({exc}); {RESTART}") from None
        if not isinstance(saved, dict):
            raise ResumeError(f"{path}: unreadable {what} (not a JSON object); {RESTART}")
        return saved


_NONE = object()


def _plain(settings: Mapping) -> dict:
    """``settings`` as JSON reads it back (tuples as lists, numpy scalars and arrays as numbers)."""
    return json.loads(json.dumps(settings, default=_numpy_value))


def _numpy_value(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"setting {value!r} ({type(value).__name__}) is not JSON-able")


def _object(value) -> dict:
    """``value`` when a JSON object, else {} (a saved inputs file edited by hand compares as empty)."""
    return value if isinstance(value, dict) else {}


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
