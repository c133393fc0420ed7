"""Figure helpers shared by every plotting module: a headless pyplot, atomic PNG + SVG output,
plain tick labels and wrapped titles."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._files import write_atomic


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend (imported on first use)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, stem: Path) -> list[Path]:
    """Write ``fig`` as ``stem.png`` and ``stem.svg`` (each atomically) and close it; return the paths."""
    paths = []
    for suffix in (".png", ".svg"):
        path = Path(stem).with_suffix(suffix)
        write_atomic(path, lambda tmp, s=suffix: fig.savefig(tmp, format=s[1:], dpi=150))
        paths.append(path)
    pyplot().close(fig)
    return paths


MINUS = "\N{MINUS SIGN}"


def plain_number(value: float) -> str:
    """A tick label without mathtext powers: ``0``, ``−1``, ``0.01``, ``1000``, ``1e4``, ``−1e−6``."""
    if value == 0:
        return "0"
    if 1e-3 <= abs(value) < 1e4:
        text = f"{value:.6g}"
    else:
        mantissa, exponent = f"{value:.2e}".split("e")
        text = f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
    return text.replace("-", MINUS)


def plain_formatter():
    """A matplotlib formatter writing every tick with :func:`plain_number`."""
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _pos: plain_number(value))


def readable_symlog_ticks(axis) -> None:
    """Plain labels (``−100``, ``−10``, ``−1``, ``0``, ``1``, ... ``1e4``) on a symlog ``axis``
    (``ax.xaxis`` or ``ax.yaxis``) instead of ``−10^{1}``."""
    from matplotlib.ticker import NullFormatter

    axis.set_major_formatter(plain_formatter())
    axis.set_minor_formatter(NullFormatter())


def readable_log_ticks(axis) -> None:
    """Plain tick labels on a log ``axis`` for its current view: linear steps (0.96, 0.98, 1) within
    one decade, 1-2-5 per decade up to three decades, one label per decade (or fewer) beyond."""
    from matplotlib.ticker import LogLocator, MaxNLocator, NullFormatter

    low, high = sorted(axis.get_view_interval())
    decades = np.log10(high / low) if low > 0 else np.inf
    if decades < 1:
        locator = MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10])
    elif decades <= 3:
        locator = LogLocator(base=10, subs=(1.0, 2.0, 5.0))
    else:
        locator = LogLocator(base=10, subs=(1.0,), numticks=8)
    axis.set_major_locator(locator)
    axis.set_major_formatter(plain_formatter())
    axis.set_minor_formatter(NullFormatter())


def wrapped_title(*lines: str, width: int = 90) -> str:
    """``lines`` joined one per line, each wrapped at ``width`` characters (titles that fit the figure)."""
    import textwrap

    return "\n".join(textwrap.fill(line, width) for line in lines if line)
