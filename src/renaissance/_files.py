"""File access shared by every reader and writer: clear read errors, atomic writes."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

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


def output_path(path: str | os.PathLike, *, force: bool = False) -> Path:
    """Check an output file's path before any work is done; create its parent directories.

    Raises :class:`OutputError` when ``path`` is a directory, when it exists and ``force`` is
    False (nothing is replaced silently), or when its folder cannot be created.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path}: is a directory; give a file name")
    if path.exists() and not force:
        raise OutputError(f"{path}: exists; use --force to replace it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{path}: cannot create its folder ({os_error_message(exc)})") from None
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
