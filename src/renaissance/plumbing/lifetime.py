"""Child processes that do not outlive their parent.

A worker of a process pool calls :func:`die_with_parent` first thing: on Linux the kernel then
sends it SIGKILL when the parent dies (``prctl(PR_SET_PDEATHSIG)``: also after ``kill -9`` of the
parent, which no handler sees); elsewhere (macOS has no prctl) a daemon thread polls
``os.getppid()`` and exits the worker within :data:`WATCH_INTERVAL_S` of the parent's death.

Linux sends the signal when the *thread* that started the child ends, so a pool must be used
from one thread that outlives it (as :class:`~renaissance.plumbing.streaming.ModelPool` is: from
the thread of its ``with`` block).

The parent side, :func:`children_die_on_sigterm`: while a pool runs, SIGTERM first kills this
process's multiprocessing children, then takes its previous course (the handler that was
installed, or death by SIGTERM), so ``kill -TERM`` leaves no worker behind even where only the
watchdog guards them.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

#: prctl option: the signal this process gets when its parent dies (linux/prctl.h)
PR_SET_PDEATHSIG = 1
#: seconds between two looks at the parent where prctl is missing
WATCH_INTERVAL_S = 0.25


def die_with_parent(parent_pid: int) -> str:
    """Make this process end when its parent ``parent_pid`` does; ``"prctl"`` or ``"watchdog"``
    (how). A parent that died already (before this call) ends this process at once."""
    how = "prctl" if set_parent_death_signal(signal.SIGKILL) else "watchdog"
    if how == "watchdog":
        start_parent_watchdog(parent_pid)
    if os.getppid() != parent_pid:  # orphaned before the signal was armed
        os._exit(1)
    return how


def set_parent_death_signal(signum: int) -> bool:
    """Ask the kernel for ``signum`` when the parent dies; False where prctl does not exist
    (not Linux) or refuses."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def start_parent_watchdog(parent_pid: int, interval_s: float = WATCH_INTERVAL_S) -> threading.Thread:
    """A daemon thread that ends this process (exit code 1) once its parent is no longer
    ``parent_pid`` (the parent died and the process was adopted)."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval_s)
        os._exit(1)

    thread = threading.Thread(target=watch, name="parent-watchdog", daemon=True)
    thread.start()
    return thread


def kill_children() -> None:
    """SIGKILL every live multiprocessing child of this process (pool workers)."""
    for child in multiprocessing.active_children():
        try:
            child.kill()
        except OSError:  # gone meanwhile
            pass


@contextmanager
def children_die_on_sigterm() -> Iterator[None]:
    """For the block: SIGTERM kills this process's multiprocessing children (:func:`kill_children`),
    then is re-raised under the handler that was there before (default: this process dies of it).

    Python handles signals in the main thread only: elsewhere, and where SIGTERM is ignored,
    nothing changes (the workers' parent-death signal still ends them)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_IGN:
        yield
        return
    restore = signal.SIG_DFL if previous is None else previous

    def on_sigterm(signum, frame) -> None:
        kill_children()
        signal.signal(signal.SIGTERM, restore)
        signal.raise_signal(signum)

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        if signal.getsignal(signal.SIGTERM) is on_sigterm:
            signal.signal(signal.SIGTERM, restore)
