"""Per-model results streamed to a CSV and a process pool over models (shared by the studies).

A study appends every row of a model in one write when the model finishes; after a kill the
file holds whole models plus at most one cut line. :func:`finished_rows` reads back the complete
models (first column: model index; ``rows_per_model`` rows each) and rewrites the file without the
rest, so a resumed study appends after them.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from multiprocessing import get_context
from pathlib import Path

from threadpoolctl import threadpool_limits

from .._files import read_text, write_text_atomic
from ..errors import RenaissanceError
from .lifetime import children_die_on_sigterm, die_with_parent


def csv_text(rows: Iterable[Iterable]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def finished_rows(path: Path, header: list[str], rows_per_model: int) -> dict[int, list[list[str]]]:
    """Complete models of a streamed table, in file order; the file is rewritten with only them."""
    text = read_text(path, RenaissanceError)
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or rows[0] != header:
        raise RenaissanceError(f"{path}: not a table of this study (header differs); use another output directory")
    body = rows[1:] if text.endswith("\n") else rows[1:-1]  # a kill may cut the last line
    per_model: dict[int, list[list[str]]] = {}
    for row in body:
        if len(row) == len(header):
            per_model.setdefault(int(row[0]), []).append(row)
    done = {m: r for m, r in per_model.items() if len(r) == rows_per_model}
    write_text_atomic(path, csv_text([header] + [row for r in done.values() for row in r]))
    return done


_WORKER: dict = {}


def _init(function: Callable, context, parent_pid: int) -> None:
    """Worker start-up: die with the parent (:func:`~.lifetime.die_with_parent`), keep the context."""
    die_with_parent(parent_pid)
    _WORKER.update(function=function, context=context)


def _call(task):
    with threadpool_limits(1):
        return _WORKER["function"](_WORKER["context"], *task)


class ModelPool:
    """``function(context, *task)`` over tasks in a spawn process pool of ``n_workers`` (default:
    all cores; 1: in this process) whose workers receive ``context`` once, at start-up; the pool
    lives until the ``with`` block ends, so repeated :meth:`map` calls (one per NES generation)
    pay the start-up once. ``function`` must be importable (module level).

    No worker outlives the pool's process: each dies with it (a parent-death signal, see
    :mod:`.lifetime`, also after ``kill -9``), and SIGTERM during the block kills the workers before
    it ends the process. Use the pool from the thread that entered the block."""

    def __init__(self, function: Callable, context, n_workers: int | None = None) -> None:
        self.function, self.context = function, context
        self.n_workers = n_workers or os.cpu_count() or 1
        self._pool: ProcessPoolExecutor | None = None
        self._sigterm = ExitStack()

    def __enter__(self) -> "ModelPool":
        if self.n_workers > 1:
            with ExitStack() as stack:
                stack.enter_context(children_die_on_sigterm())
                self._pool = ProcessPoolExecutor(self.n_workers, mp_context=get_context("spawn"), initializer=_init,
                                                 initargs=(self.function, self.context, os.getpid()))
                self._sigterm = stack.pop_all()
        return self

    def __exit__(self, *exc) -> None:
        pool, self._pool = self._pool, None
        with self._sigterm:  # the SIGTERM handler stays until the workers are gone
            if pool is not None:
                pool.shutdown(cancel_futures=True)

    def map(self, tasks: list[tuple]) -> Iterator:
        """Results in task order, as they arrive."""
        if self._pool is None or len(tasks) <= 1:
            return self._here(tasks)
        return self._pool.map(_call, tasks, chunksize=max(1, len(tasks) // (8 * self.n_workers)))

    def _here(self, tasks: list[tuple]) -> Iterator:
        with threadpool_limits(1):
            for task in tasks:
                yield self.function(self.context, *task)


def map_models(function: Callable, context, tasks: list[tuple], n_workers: int | None, on_result: Callable) -> None:
    """Call ``function(context, *task)`` for every task (:class:`ModelPool`) and
    ``on_result(result)`` here as results arrive (in task order)."""
    with ModelPool(function, context, n_workers if len(tasks) > 1 else 1) as pool:
        for result in pool.map(tasks):
            on_result(result)
