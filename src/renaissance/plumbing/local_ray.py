"""Ray for the studies: a cluster at an address the user names, or a private local instance.

:func:`ray_session` without an address starts a local instance (:func:`local_ray_options`) that

* is new: ``address="local"`` never attaches to a running instance (``RAY_ADDRESS``, the
  ``/tmp/ray`` of another run); a cluster is reached only through an explicit address
  (``--ray-address``);
* listens on loopback only and has no dashboard: Ray's node address becomes 127.0.0.1 (Ray's
  single-machine mode, the default on macOS and Windows, chosen on Linux with
  ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``; ``_node_ip_address="127.0.0.1"`` alone is replaced by
  the machine's address), so the GCS, the raylet, the workers, the driver and the agents bind
  127.0.0.1;
* keeps its session folder (``_temp_dir``) in a private temporary folder, removed at the end;
* does not outlive the driver. Measured with Ray 2.60 on Linux: after ``kill -9`` of the driver,
  the GCS and the raylet die at once (Ray's parent-death signal) and the workers within 2 s, but
  the dashboard and runtime-env agents notice the raylet's death, then wait up to 60 s for the
  dead GCS to take their report: they lived 30-90 s, the runtime-env agent listening. A guard
  process (:mod:`._ray_guard`) therefore watches the driver and kills what is left of the
  instance as soon as the driver ends, normally or not, and removes the folder. Should the guard
  be killed too, the next local instance removes the instances of dead drivers
  (:func:`sweep_stale_sessions`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import RenaissanceError
from . import _ray_guard
from ._ray_guard import MARKER, OWNER_FILE, clean_session

#: the prefix of the private folders of local instances
FOLDER_PREFIX = "renaissance-ray-"
#: Ray's switch to its single-machine mode (node address 127.0.0.1), read when ray is imported
LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
#: object store of a local instance, bytes (the studies pass small objects)
OBJECT_STORE_BYTES = 256 * 1024**2
#: Unix sockets live under the session folder; their paths must stay under 107 bytes
MAX_TEMP_BASE = 40


def local_ray_options(n_workers: int | None, temp_dir: str | os.PathLike, pythonpath: str = "") -> dict:
    """The ``ray.init`` arguments of a private local instance: ``n_workers`` CPUs (default: all
    cores), loopback only, no dashboard, session folder ``temp_dir``, and workers that import
    from ``pythonpath`` (the driver's package root, also from a checkout) first."""
    env = {"PYTHONPATH": os.pathsep.join(p for p in (pythonpath, os.environ.get("PYTHONPATH", "")) if p)}
    return {
        "address": "local", "num_cpus": n_workers or os.cpu_count() or 1, "include_dashboard": False,
        "log_to_driver": False, "object_store_memory": OBJECT_STORE_BYTES, "_node_ip_address": "127.0.0.1",
        "_temp_dir": str(temp_dir), "runtime_env": {"env_vars": {k: v for k, v in env.items() if v}},
    }


def temp_base() -> str:
    """Where private folders go: the system's temporary folder, or ``/tmp`` where that path is too
    long for Ray's Unix sockets (macOS)."""
    base = tempfile.gettempdir()
    return base if len(base) <= MAX_TEMP_BASE or not os.path.isdir("/tmp") else "/tmp"


@contextmanager
def ray_session(address: str | None = None, n_workers: int | None = None, pythonpath: str = "",
                missing: str = "Ray is missing: pip install 'ray>=2.9'") -> Iterator:
    """The ``ray`` module, initialised for the block: connected to the cluster at ``address``, or
    a private local instance (module docstring; ``n_workers`` CPUs) that ends with the block.
    A Ray that the caller initialised already is used as it is and left running. Without Ray: a
    :class:`~renaissance.errors.RenaissanceError` saying ``missing``."""
    try:
        import ray
    except ImportError:
        raise RenaissanceError(missing) from None
    if ray.is_initialized():
        yield ray
    elif address:
        ray.init(address=address, log_to_driver=False)
        try:
            yield ray
        finally:
            ray.shutdown()
    else:
        with _local_instance(ray, n_workers, pythonpath):
            yield ray


@contextmanager
def _local_instance(ray, n_workers: int | None, pythonpath: str) -> Iterator[Path]:
    """Start a private local instance under a guard; at the end shut it down, let the guard kill
    what is left and remove its folder."""
    sweep_stale_sessions()
    folder = Path(tempfile.mkdtemp(prefix=FOLDER_PREFIX, dir=temp_base()))
    try:
        (folder / OWNER_FILE).write_text(f"{os.getpid()}\n")
        guard = _start_guard(folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    saved = {key: os.environ.get(key) for key in (MARKER, LOOPBACK_ENV)}
    os.environ.update({MARKER: str(folder), LOOPBACK_ENV: "0"})  # Ray's processes inherit both
    try:
        with _single_machine_mode(ray):
            ray.init(**local_ray_options(n_workers, folder, pythonpath))
        _warn_unless_loopback(ray)
        yield folder
    finally:
        try:
            ray.shutdown()
        finally:
            _restore_environ(saved)
            guard.stdin.close()  # the guard cleans up and removes the folder
            try:
                guard.wait(timeout=30)
            except subprocess.TimeoutExpired:
                guard.kill()
            shutil.rmtree(folder, ignore_errors=True)


def _start_guard(folder: Path) -> subprocess.Popen:
    """The guard (:mod:`._ray_guard`) of this driver's instance in ``folder``, in a session of its own."""
    command = [sys.executable, "-I", _ray_guard.__file__, str(folder), str(os.getpid())]
    return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, start_new_session=True)


@contextmanager
def _single_machine_mode(ray) -> Iterator[None]:
    """Ray reads :data:`LOOPBACK_ENV` when imported: if it was imported before the variable was
    set, switch its constant for the start (where this Ray has it)."""
    constants = getattr(getattr(ray, "_private", None), "ray_constants", None)
    before = getattr(constants, "ENABLE_RAY_CLUSTER", None)
    if before:
        constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        if before:
            constants.ENABLE_RAY_CLUSTER = before


def _warn_unless_loopback(ray) -> None:
    """Warn if this Ray put the local instance on another address than 127.0.0.1."""
    address = ray.util.get_node_ip_address()
    if address not in ("127.0.0.1", "::1", "localhost"):
        warnings.warn(f"the local Ray instance runs on {address}, not on loopback only", RuntimeWarning, stacklevel=3)


def _restore_environ(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def sweep_stale_sessions(base: str | os.PathLike | None = None) -> list[Path]:
    """Remove the private folders under ``base`` (default :func:`temp_base`) whose driver is dead,
    with whatever of their instance still runs (marked processes); the folders removed."""
    removed = []
    for folder in Path(base or temp_base()).glob(FOLDER_PREFIX + "*"):
        if folder.is_dir() and not _driver_alive(folder):
            clean_session(str(folder))
            removed.append(folder)
    return removed


def _driver_alive(folder: Path) -> bool:
    """Whether the process named in ``folder``'s owner file runs (unreadable: assume it does)."""
    try:
        pid = int((folder / OWNER_FILE).read_text())
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, ValueError):
        return True
    return True
