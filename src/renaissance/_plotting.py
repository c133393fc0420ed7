"""Figure helpers shared by every plotting module: a headless pyplot and atomic PNG + SVG output."""

from __future__ import annotations

from pathlib import Path

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
