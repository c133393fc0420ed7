"""File access shared by every reader and writer: clear read errors, atomic writes."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import RenaissanceError


def read_text(path: str | os.PathLike, error: type[RenaissanceError]) -> str:
    """The UTF-8 text of ``path``; an OS error becomes ``error("<path>: cannot read file (...)")``."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path}: cannot read file ({exc.strerror})") from None


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
