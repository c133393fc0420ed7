"""Issue 23, items 6 and 7: no process outlives its run, and the local Ray instance is private.

* ``robustness --workers 2`` killed with SIGKILL or SIGTERM while its workers compute: no child of
  it (pool workers, multiprocessing's resource tracker) is left a few seconds later;
* the parent-death watchdog (where prctl is missing) and the SIGTERM handler of a pool;
* the local Ray instance listens on 127.0.0.1 only, and after a normal end or ``kill -9`` of the
  driver none of its processes and not its session folder is left; folders of dead drivers are
  swept at the next start.

Processes and sockets are read from ``/proc`` (Linux).
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from renaissance.parameterised import PopulationWriter, ProblemSettings, parameterise
from renaissance.plumbing._ray_guard import MARKER, OWNER_FILE
from renaissance.plumbing.lifetime import children_die_on_sigterm
from renaissance.plumbing.local_ray import FOLDER_PREFIX, local_ray_options, sweep_stale_sessions

from .conftest import DATA

LINUX = pytest.mark.skipif(not sys.platform.startswith("linux"),
                           reason="processes and sockets are read from /proc, which only Linux has")
HAS_RAY = importlib.util.find_spec("ray") is not None
NEEDS_RAY = pytest.mark.skipif(not HAS_RAY, reason=(
    "Ray is not installed in this environment: only the ray.init arguments are checked "
    "(test_local_ray_options)"))
#: seconds a killed run's processes may take to end
GRACE_S = 5.0
LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}


# --- /proc helpers --------------------------------------------------------------------------------

def _stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat fields after the command name; None if gone or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else fields


def _alive(pid: int) -> bool:
    return _stat(pid) is not None


def _descendants(pid: int) -> set[int]:
    """Live descendants of ``pid`` (by the parent id in /proc/*/stat)."""
    parents = {}
    for entry in Path("/proc").glob("[0-9]*"):
        fields = _stat(int(entry.name))
        if fields:
            parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier and p not in found}
        found |= frontier
    return found


def _command(pid: int) -> str:
    """The whole command line of ``pid`` (not cut: a long interpreter path or flags such as -B push
    ``spawn_main`` far to the right)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "?"


def _survivors(pids: set[int], within_s: float = GRACE_S) -> list[str]:
    """The processes of ``pids`` still alive after ``within_s`` seconds (their commands)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.1)
    return [f"{p}: {_command(p)[:120]}" for p in pids if _alive(p)]


def _kill_all(pids: set[int]) -> None:
    """Leave nothing behind when a test fails."""
    for pid in pids:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _address(hex_address: str, v6: bool) -> str:
    raw = bytes.fromhex(hex_address.split(":")[0])
    if v6:
        return socket.inet_ntop(socket.AF_INET6, b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4)))
    return socket.inet_ntop(socket.AF_INET, raw[::-1])


def _listening(pids: set[int]) -> list[tuple[int, str, int]]:
    """(pid, address, port) of the TCP sockets in LISTEN state that ``pids`` hold."""
    owner = {}
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:  # gone
            continue
        for fd in fds:
            try:
                link = os.readlink(fd)
            except OSError:
                continue
            if link.startswith("socket:["):
                owner[link[8:-1]] = pid
    found = []
    for table, v6 in (("tcp", False), ("tcp6", True)):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in owner:  # 0A: LISTEN
                found.append((owner[fields[9]], _address(fields[1], v6), int(fields[1].split(":")[1], 16)))
    return found


def _wait_for(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


# --- the process pool ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def toy_population_file(tmp_path_factory) -> Path:
    """400 random valid-flagged Km sets of the toy model (Vmax back-calculated): enough work that
    two workers are still busy seconds after they started."""
    path = tmp_path_factory.mktemp("processes") / "toy.h5"
    model = parameterise(ProblemSettings(model=str(DATA / "toy_model.yaml"),
                                         steady_state=str(DATA / "toy_steady_state.csv")))
    n = 400
    ln_km = np.random.default_rng(0).uniform(np.log(1e-5), np.log(1e-2), (n, model.n_km))
    with h5py.File(path, "w") as f:
        writer = PopulationWriter(f, model)
        writer.append(ln_km, np.full(n, -3.0), np.ones(n, dtype=bool), np.zeros(n, dtype=np.int8))
        writer.finish(path, {"threshold": -2.5, "seed": 0})
    return path


@LINUX
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "kill-TERM"])
def test_killed_robustness_run_leaves_no_process(toy_population_file, tmp_path, signum):
    """Workers and the resource tracker end within seconds of their run (they lived for minutes)."""
    out = tmp_path / "rob"
    run = subprocess.Popen([sys.executable, "-m", "renaissance.cli", "robustness", str(toy_population_file),
                            "--out", str(out), "--workers", "2", "--plot", ""],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children: set[int] = set()
    try:
        def workers_busy() -> bool:  # two pool workers exist and models are being written
            children.update(_descendants(run.pid))
            workers = [p for p in children if "spawn_main" in _command(p)]
            table = out / "runs.csv"
            return len(workers) >= 2 and table.exists() and len(table.read_text().splitlines()) > 4

        _wait_for(workers_busy, 90, "two busy workers")
        children.update(_descendants(run.pid))
        run.send_signal(signum)
        assert run.wait(timeout=30) == -signum
        assert _survivors(children) == []
    finally:
        run.kill()
        _kill_all(children)


_WATCHED_CHILD = """
import sys, time
from renaissance.plumbing.lifetime import start_parent_watchdog
import os
start_parent_watchdog(os.getppid(), 0.05)
print("armed", flush=True)
time.sleep(60)
"""
_PARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1]], stdout=subprocess.PIPE, text=True)
assert child.stdout.readline().strip() == "armed"
print(child.pid, flush=True)
time.sleep(60)
"""


@LINUX
def test_watchdog_ends_a_process_whose_parent_died():
    """Where prctl does not exist (macOS) the watchdog thread ends the worker."""
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, _WATCHED_CHILD], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    try:
        parent.kill()
        parent.wait()
        assert _survivors({child}) == []
    finally:
        _kill_all({child})


def test_sigterm_handler_kills_children_then_hands_over():
    """During the block SIGTERM goes to our handler, which hands it to the previous one; after the
    block the previous handler is back."""
    seen = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    try:
        with children_die_on_sigterm():
            assert signal.getsignal(signal.SIGTERM) is not previous
            signal.raise_signal(signal.SIGTERM)
            time.sleep(0.01)  # Python runs handlers between bytecodes
        assert seen == [signal.SIGTERM]
        assert signal.getsignal(signal.SIGTERM).__name__ == "<lambda>"
    finally:
        signal.signal(signal.SIGTERM, previous)


# --- the local Ray instance ------------------------------------------------------------------------

def test_local_ray_options(tmp_path):
    """A new instance (never one found running), loopback only, no dashboard, our session folder."""
    options = local_ray_options(3, tmp_path, "/src")
    assert options["address"] == "local" and options["num_cpus"] == 3
    assert options["_node_ip_address"] == "127.0.0.1" and options["include_dashboard"] is False
    assert options["_temp_dir"] == str(tmp_path)
    assert options["runtime_env"]["env_vars"]["PYTHONPATH"].split(os.pathsep)[0] == "/src"


_RAY_DRIVER = """
import os, sys
from renaissance.plumbing.local_ray import ray_session
with ray_session(None, 1) as ray:
    square = ray.remote(num_cpus=1)(lambda x: x * x)
    assert ray.get([square.remote(i) for i in range(3)]) == [0, 1, 4]
    print(os.environ["RENAISSANCE_RAY_SESSION"], flush=True)
    sys.stdin.readline()
"""


@LINUX
@NEEDS_RAY
@pytest.mark.parametrize("end", ["normal", "kill-9"])
def test_local_ray_listens_on_loopback_and_leaves_nothing(end):
    """Every socket Ray's processes listen on is 127.0.0.1; after the driver ends (normally or by
    SIGKILL) none of its processes is left and its session folder is gone. Without the guard,
    the agents outlived a killed driver by 30-90 s, one of them listening."""
    driver = subprocess.Popen([sys.executable, "-c", _RAY_DRIVER], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    processes: set[int] = set()
    try:
        folder = Path(driver.stdout.readline().strip())
        assert folder.name.startswith(FOLDER_PREFIX) and folder.is_dir()
        processes = _descendants(driver.pid)
        sockets = _listening(processes | {driver.pid})
        assert len(sockets) >= 3  # GCS, raylet, driver, workers, agents
        assert [s for s in sockets if s[1] not in LOOPBACK] == []
        if end == "normal":
            driver.stdin.write("\n")
            driver.stdin.flush()
            assert driver.wait(timeout=60) == 0
        else:
            driver.kill()
            driver.wait()
        assert _survivors(processes) == []
        _wait_for(lambda: not folder.exists(), GRACE_S, f"{folder} to be removed")
    finally:
        driver.kill()
        _kill_all(processes)


@LINUX
def test_stale_sessions_of_dead_drivers_are_swept(tmp_path):
    """A folder whose driver is dead goes, with the processes marked with it; a live one stays."""
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    stale, live = tmp_path / f"{FOLDER_PREFIX}stale", tmp_path / f"{FOLDER_PREFIX}live"
    for folder, owner in ((stale, gone.pid), (live, os.getpid())):
        folder.mkdir()
        (folder / OWNER_FILE).write_text(f"{owner}\n")
    leftover = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                                env={**os.environ, MARKER: str(stale)})
    try:
        assert sweep_stale_sessions(tmp_path) == [stale]
        assert leftover.wait(timeout=GRACE_S) == -signal.SIGKILL
        assert not stale.exists() and live.is_dir()
    finally:
        leftover.kill()
