"""The guard of a private local Ray instance (standard library only; :mod:`.local_ray` runs this
file as a script, in a session of its own so that Ctrl-C or a group kill of the driver spares it).

``python _ray_guard.py FOLDER DRIVER_PID`` reads its stdin, a pipe whose other end only the driver
holds, until end-of-file: the driver closed it (a normal end, after ``ray.shutdown()``) or died
(``kill -9`` included). Meanwhile it notes, every :data:`WATCH_S` seconds, the instance's processes:
the driver's children whose environment carries ``RENAISSANCE_RAY_SESSION=FOLDER`` (the driver sets
it for the instance: Ray's GCS, raylet, monitors) and their descendants (agents, workers). At the
end it kills those still alive and every other process marked so, then removes FOLDER, Ray's
temporary folder. Processes are found in ``/proc`` (Linux); elsewhere nothing is killed (Ray's own
reaper process ends the instance there) and the folder is removed.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import sys
import time
from pathlib import Path

#: the environment variable that marks the processes of one local Ray instance (value: its folder)
MARKER = "RENAISSANCE_RAY_SESSION"
#: the file in the folder that names the driver's process id
OWNER_FILE = "driver.pid"
#: seconds between two notes of the driver's descendants
WATCH_S = 1.0


def _stat(pid: int | str) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state first); None if gone or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else fields


def start_time(pid: int) -> str | None:
    """The start time of a live process (clock ticks after boot): a process id with its start
    time names one process, even after the id is reused."""
    fields = _stat(pid)
    return fields[19] if fields else None


def _process_table() -> tuple[dict[int, list[int]], dict[int, str]]:
    """One pass over /proc: parent id -> child ids, and process id -> start time (live processes)."""
    children: dict[int, list[int]] = {}
    started: dict[int, str] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        fields = _stat(entry.name)
        if fields:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
            started[int(entry.name)] = fields[19]
    return children, started


def is_marked(pid: int, folder: str) -> bool:
    """Whether the environment of ``pid`` holds ``MARKER=folder``."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:  # gone, or another user's
        return False
    return f"{MARKER}={folder}".encode() in environ.split(b"\0")


def ray_processes(driver: int, folder: str) -> dict[int, str]:
    """The instance's processes under ``driver``: its marked children (GCS, raylet, monitors,
    dashboard) and all their descendants (agents, workers); process id -> start time."""
    children, started = _process_table()
    frontier = [c for c in children.get(driver, []) if is_marked(c, folder)]
    found: dict[int, str] = {}
    while frontier:
        found.update({c: started[c] for c in frontier})
        frontier = [c for p in frontier for c in children.get(p, []) if c not in found]
    return found


def marked_processes(folder: str) -> list[int]:
    """Live processes whose environment holds ``MARKER=folder`` ([] without /proc). Ray renames
    its agents and workers (setproctitle), which may overwrite the start of their environment:
    the marker, set last, survives where we looked (Ray 2.60), but :func:`ray_processes` does not
    depend on it."""
    return [int(d.name) for d in Path("/proc").glob("[0-9]*") if is_marked(int(d.name), folder) and _stat(d.name)]


def kill_session(folder: str, known: dict[int, str] | None = None, exclude: frozenset[int] = frozenset(),
                 rounds: int = 5) -> int:
    """SIGKILL the ``known`` processes (id -> start time) still alive and the marked ones, until none
    is left (at most ``rounds`` rounds 0.2 s apart: a dying raylet may still start a worker); the
    number killed."""
    known = known or {}
    killed: set[int] = set()
    for _ in range(rounds):
        alive = {p for p, t in known.items() if start_time(p) == t} | set(marked_processes(folder))
        targets = alive - killed - set(exclude)
        if not targets:
            break
        for pid in targets:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        killed |= targets
        time.sleep(0.2)
    return len(killed)


def clean_session(folder: str, known: dict[int, str] | None = None, exclude: frozenset[int] = frozenset()) -> int:
    """Kill what is left of the instance in ``folder`` (:func:`kill_session`) and remove the
    folder; the number killed."""
    killed = kill_session(folder, known, exclude)
    shutil.rmtree(folder, ignore_errors=True)
    return killed


def _closed(fd: int, timeout_s: float) -> bool:
    """Whether the pipe ``fd`` reached end-of-file within ``timeout_s`` (what arrives is dropped)."""
    readable, _, _ = select.select([fd], [], [], timeout_s)
    return bool(readable) and os.read(fd, 4096) == b""


def main(argv: list[str]) -> int:
    """Note the driver's descendants until it closes our stdin or dies, then clean up its instance."""
    folder, driver = argv[1], int(argv[2])
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    previous: dict[int, str] = {}
    latest: dict[int, str] = {}
    while not _closed(sys.stdin.fileno(), WATCH_S):
        previous, latest = latest, ray_processes(driver, folder)
    clean_session(folder, {**previous, **latest}, exclude=frozenset({os.getpid(), driver}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
