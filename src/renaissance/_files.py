"""File access shared by every reader and writer: clear read errors, atomic writes, and the
outputs of a command checked, locked and cleaned of a killed run's leftovers before it starts."""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: outputs are not locked (OutputLock)
    fcntl = None

from .errors import OutputError, RenaissanceError, os_error_message, os_problem


def read_text(path: str | os.PathLike, error: type[RenaissanceError]) -> str:
    """The UTF-8 text of ``path``; an OS error or bytes that are not UTF-8 become one ``error``
    naming the file (and the offset of the first bad byte)."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path}: cannot read file ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
                    "save the file as UTF-8") from None


def output_path(path: str | os.PathLike, *, force: bool = False,
                inputs: Iterable[str | os.PathLike | None] = ()) -> Path:
    """Check an output file's path before any work is done; create its parent directories.

    Raises :class:`OutputError` when ``path`` is a directory, when it is one of the command's
    ``inputs`` (even with ``force``: :func:`refuse_own_inputs`), when it exists and ``force`` is
    False (nothing is replaced silently), or when its folder cannot be created.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path}: is a directory; give a file name")
    refuse_own_inputs([path], inputs)
    if path.exists() and not force:
        raise OutputError(f"{path}: exists; use --force to replace it")
    _make_folder(path.parent, path)
    return path


def write_atomic(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """Call ``write(tmp)`` on a temporary path beside ``path``, then rename it into place.

    Nothing is left half-written: on any error the temporary file is removed. An OS error
    (no permission, ``path`` is a directory, disk full) becomes one :class:`OutputError`.
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as exc:
        raise OutputError(f"{path}: cannot write file ({os_problem(exc)})") from None
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual mode
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write file ({os_problem(exc)}); nothing was written") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) atomically to ``path``."""
    write_atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def write_npz_atomic(path: str | os.PathLike, **arrays) -> None:
    """Write numpy arrays as an uncompressed ``.npz`` atomically (read back with allow_pickle=False)."""
    import numpy as np

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    write_atomic(path, write)


def write_hdf5_atomic(path: str | os.PathLike, write: Callable[..., None]) -> None:
    """Call ``write(f, check)`` on a new ``h5py.File`` ``f``, written atomically as :func:`write_atomic`.

    libhdf5 must never see a failed write: with the disk full, a failed write inside the
    library (while it closes a dataset or the file) leaves it in a state that crashes the
    interpreter at exit. The file is therefore written through :class:`_FirstErrorFile`, which
    drops every write after the first OS error and remembers that error; ``check()`` raises it
    (call it after each block of data), and so does the end of the write.
    """
    import h5py

    def write_file(tmp: str) -> None:
        with open(tmp, "w+b") as raw:
            guarded = _FirstErrorFile(raw)
            with h5py.File(guarded, "w") as f:
                write(f, guarded.check)
            guarded.check()

    write_atomic(path, write_file)


class _FirstErrorFile:
    """A binary file for h5py's ``fileobj`` driver that never fails a write: the first OS error
    is remembered (``check`` raises it) and every later write is dropped; reads pass through."""

    def __init__(self, raw):
        self.raw = raw
        self.error: OSError | None = None

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def _guarded(self, operation, *args, result):
        if self.error is None:
            try:
                return operation(*args)
            except OSError as exc:
                self.error = exc
        return result

    def write(self, data) -> int:
        return self._guarded(self.raw.write, data, result=memoryview(data).nbytes)

    def truncate(self, size=None) -> int:
        return self._guarded(self.raw.truncate, size, result=size)

    def flush(self) -> None:
        self._guarded(self.raw.flush, result=None)

    def readinto(self, buffer) -> int:
        return self.raw.readinto(buffer)

    def read(self, size: int = -1) -> bytes:
        return self.raw.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        return self.raw.tell()


# ----- outputs of a command: checked, locked and cleaned before any work -----------------------

#: the names ``tempfile`` gives the temporary files (and folders) of the atomic writes above: a dot,
#: the output's name, a dot and 8 random characters (``.pop.h5.k3j_x9q2``)
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.[a-z0-9_]{8}$")
EARLIER_RUN = "the outputs of an earlier run"


def refuse_own_inputs(outputs: Iterable[str | os.PathLike], inputs: Iterable[str | os.PathLike | None]) -> None:
    """Raise :class:`OutputError` when writing ``outputs`` would replace one of the ``inputs``: an
    input that is an output (the same file, however it is spelt: links too) or lies inside an
    output folder. Inputs that do not exist (or are ``None`` or empty) are skipped."""
    sources = [Path(p) for p in inputs if p and Path(p).exists()]
    for output in map(Path, outputs):
        for source in sources:
            if _is_same(source, output):
                spelt = "" if source == output else f" ({source})"
                raise OutputError(f"{output}: is an input of this command{spelt}; write the output elsewhere")
            if output.resolve() in source.resolve().parents:
                raise OutputError(f"{output}: holds an input of this command ({source}); write the output elsewhere")


def _is_same(source: Path, output: Path) -> bool:
    if not output.exists():
        return False
    try:
        return os.path.samefile(source, output)
    except OSError:
        return source.resolve() == output.resolve()


def earlier_outputs(folder: str | os.PathLike, outputs: Iterable[str]) -> list[Path]:
    """The files and folders in ``folder`` whose names match ``outputs`` (glob patterns), sorted."""
    folder = Path(folder)
    return sorted({p for pattern in outputs for p in folder.glob(pattern)}) if folder.is_dir() else []


def output_folder(path: str | os.PathLike, *, outputs: Iterable[str], force: bool = False, resume: bool | None = None,
                  inputs: Iterable[str | os.PathLike | None] = (), what: str = EARLIER_RUN) -> list[Path]:
    """Check an output folder before any work; return the earlier run's outputs in it.

    ``outputs``: the names (glob patterns) of what the command writes into the folder; other
    files never count. ``resume``: ``None`` for a command that cannot resume. Raises
    :class:`OutputError` when ``path`` is a file, when an output of an earlier run is (or holds)
    one of the ``inputs`` (even with ``force``), when both ``force`` and ``resume`` are given, or
    when outputs of an earlier run are there and neither is given (``what`` names them).
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path}: is a file; give a folder")
    if force and resume:
        raise OutputError(f"{path}: --force starts afresh and --resume continues; give one of them")
    found = earlier_outputs(path, outputs)
    refuse_own_inputs(found, inputs)
    if found and not (force or resume):
        remedy = ("use --force to replace them" if resume is None
                  else "use --resume to continue it or --force to replace it")
        names = ", ".join(p.name for p in found[:3]) + (f", ... ({len(found)} in all)" if len(found) > 3 else "")
        raise OutputError(f"{path}: holds {what} ({names}); {remedy}")
    return found


@contextmanager
def claim_output(path: str | os.PathLike, *, force: bool = False, inputs: Iterable[str | os.PathLike | None] = (),
                 outputs: Iterable[str] | None = None, resume: bool | None = None,
                 what: str = EARLIER_RUN) -> Iterator[Path]:
    """Hold an output for one run (a ``with`` block): create its parent folder, lock it
    (:class:`OutputLock`), check it (a file: :func:`output_path`; a folder, when ``outputs`` names
    what the command writes there: :func:`output_folder`), remove what a killed run left there
    (:func:`remove_temporaries`) and, for a folder with ``force``, the earlier run's outputs. A
    file given ``force`` is replaced when it is written. Yields ``path``; the lock is released at
    the end of the block."""
    path = Path(path)
    _make_folder(path.parent, path)
    with OutputLock(path):
        if outputs is None:
            output_path(path, force=force, inputs=inputs)
        else:
            outputs = tuple(outputs)
            found = output_folder(path, outputs=outputs, force=force, resume=resume, inputs=inputs, what=what)
            if force:
                _remove(found)
        remove_temporaries(path, outputs)
        yield path


def _make_folder(folder: Path, output: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{output}: cannot create its folder ({os_error_message(exc)})") from None


def _remove(paths: Iterable[Path]) -> None:
    """Delete files and folders (an OS error: one :class:`OutputError` naming the path)."""
    for path in paths:
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        except OSError as exc:
            raise OutputError(f"{path}: cannot remove it ({os_problem(exc)})") from None


def remove_temporaries(path: str | os.PathLike, outputs: Iterable[str] | None = None) -> list[Path]:
    """Remove the temporary files of atomic writes into ``path`` that a killed run left; return them.

    Only names of this package's own pattern (a dot, the output's name, a dot, 8 characters) are
    touched, and only for this output: beside ``path`` those of ``path`` itself; for a folder
    (``outputs``: the names or glob patterns it holds) those of its outputs inside it, and any in
    the output folders below it (a training run's checkpoint, a case's run). Call it while holding
    the output's :class:`OutputLock`: another run's temporaries are then not there.
    """
    path = Path(path)
    leftovers = [p for p in _temporaries(path.parent) if _TEMPORARY.match(p.name)["name"] == path.name]
    if outputs is not None:
        patterns = tuple(outputs)
        leftovers += [p for p in _temporaries(path)
                      if any(fnmatch.fnmatchcase(_TEMPORARY.match(p.name)["name"], n) for n in patterns)]
        for output in earlier_outputs(path, patterns):
            if output.is_dir():
                folders = [output, *(p for p in output.rglob("*") if p.is_dir())]
                leftovers += [p for folder in folders for p in _temporaries(folder)]
    leftovers = sorted(set(leftovers))
    _remove(leftovers)
    return leftovers


def _temporaries(folder: Path) -> list[Path]:
    """Entries of ``folder`` named as the temporaries of atomic writes."""
    return [p for p in folder.glob(".*") if _TEMPORARY.match(p.name)] if folder.is_dir() else []


class OutputLock:
    """An exclusive lock on an output (file or folder) for one run: ``flock`` on ``<output>.lock``
    beside it, a file holding the holder's pid and start time.

    A second run that wants the output gets one :class:`OutputError` naming the first. The lock is
    released, and its file removed, when the run ends; a run killed (``kill -9``) leaves the file
    behind unlocked (the kernel drops the locks of a dead process) and the next run takes it over.
    Where ``fcntl`` does not exist (Windows) or the file system cannot lock, nothing is locked.
    """

    def __init__(self, output: str | os.PathLike) -> None:
        self.output = Path(output)
        resolved = self.output.resolve()
        self.path = resolved.parent / f"{resolved.name}.lock"
        self._fd: int | None = None

    def __enter__(self) -> "OutputLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def acquire(self) -> None:
        """Take the lock, or raise :class:`OutputError` naming the run that holds it."""
        if fcntl is None:
            return
        while self._fd is None:
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = self.holder()
                os.close(fd)
                raise OutputError(f"{self.output}: in use by another run ({holder}; lock {self.path}); wait for it "
                                  "to end or write elsewhere") from None
            except OSError:  # the file system cannot lock (some network mounts): go on without
                os.close(fd)
                return
            if _same_file(fd, self.path):
                self._fd = fd
            else:  # its holder removed the file between our open and flock: take the new one
                os.close(fd)
        os.ftruncate(self._fd, 0)
        os.write(self._fd, f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise OutputError(f"{self.output}: cannot write here ({os_problem(exc)}: {self.path})") from None

    def holder(self) -> str:
        """The holder's pid and start time, as written in the lock file."""
        try:
            return self.path.read_text(encoding="utf-8", errors="replace").strip() or "pid unknown"
        except OSError:
            return "pid unknown"

    def release(self) -> None:
        """Remove the lock file (while still holding it: a run waiting re-checks it) and unlock."""
        if self._fd is not None:
            self.path.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = None


def _same_file(fd: int, path: Path) -> bool:
    try:
        here, there = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def write_folder_atomic(folder: str | os.PathLike, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a new temporary folder beside ``folder``, then move what it wrote into
    place: the temporary folder is renamed to ``folder``, or, when ``folder`` exists, its files are
    renamed into it one by one. On any error the temporary folder is removed: nothing was written
    (an OS error becomes one :class:`OutputError`)."""
    folder = Path(folder)
    try:
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    except OSError as exc:
        raise OutputError(f"{folder}: cannot write ({os_problem(exc)})") from None
    try:
        write(tmp)
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp creates 0700
        if folder.exists():
            for path in sorted(tmp.iterdir()):
                os.replace(path, folder / path.name)
            tmp.rmdir()
        else:
            os.replace(tmp, folder)
    except OutputError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise OutputError(str(exc).replace(str(tmp), str(folder))) from None
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise OutputError(f"{folder}: cannot write ({os_problem(exc)}); nothing was written") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
