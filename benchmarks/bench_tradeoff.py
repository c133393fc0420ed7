"""How fast can the dynamics at a state be made, and what robustness does each speed buy?

Run: ``python benchmarks/bench_tradeoff.py [--state SS.csv] [--iterations 80] [--checks 10,20,40,80]
[--models 40] [--population POP.h5 ...]``.

The speed axis is walked with the landscape's cross-entropy search (``analysis.search``; 200 sets
per iteration, no early stop), because NES in 50 generations stops short of it: at each check
iteration the valid sets of that iteration (up to ``--models``) go through the robustness test
(one +-50% perturbation each, pools kept, 1% tolerance). Each ``--population`` (e.g. the
generators trained by ``renaissance train``) adds a row for its first ``--models`` valid models.
Prints one row per point: median lambda_max of the tested models and the share back within 1%
per group and check time, then the species last to return; writes ``OUT/tradeoff.png``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from renaissance._plotting import pyplot, save_figure
from renaissance.analysis.search import SearchSettings, search_fast_km
from renaissance.dynamics.robustness import RobustnessSettings, robustness_problem, robustness_study
from renaissance.generator.settings import shipped_state
from renaissance.model import compile_model, load_model
from renaissance.stability import back_calculate_vmax, prepare_stability
from renaissance.steadystate import read_steady_state
from renaissance.steadystate.table import model_for_state

ROOT = Path(__file__).resolve().parents[1]
GROUPS = ("biomass", "NADH", "ATP", "NADPH", "cytosolic")


def study_row(label, problem, stability, ln_km, lam, settings, workers) -> dict:
    vmax = back_calculate_vmax(stability, ln_km)
    with tempfile.TemporaryDirectory() as tmp:
        study = robustness_study(problem, np.exp(ln_km), vmax, settings, tmp, n_workers=workers)
    return {"label": label, "lambda": float(np.median(lam)), "n": len(ln_km), "fractions": study.fractions(),
            "escaped": study.status_counts().get("escaped", 0), "slowest": study.slowest_species(0, 3)}


MARKERS = ("o", "s", "^", "v", "D", "P", "X", "*", "<", ">", "h", "p")


def plot_tradeoff(rows: list[dict], times, out_dir: Path, title: str | None = None) -> list[Path]:
    """``OUT/tradeoff.png``: per check time, the share of runs back (y) against the speed of the
    tested models (x) of every row (a search iteration or a population: one marker shape each,
    not joined, since they are separate methods) and species group (one colour each); legends of
    both right of the panels. ``title``: the first title line (e.g. the state)."""
    plt = pyplot()
    groups = [g for g in GROUPS if any(g in r["fractions"] for r in rows)]
    fig, axes = plt.subplots(1, len(times), figsize=(3.6 * len(times) + 3.4, 3.9), sharey=True, squeeze=False,
                             layout="constrained")
    for ax, (j, t) in zip(axes[0], enumerate(times)):
        for i, row in enumerate(rows):
            for k, g in enumerate(groups):
                if g in row["fractions"]:
                    ax.plot(-row["lambda"], 100 * row["fractions"][g][j], linestyle="none",
                            marker=MARKERS[i % len(MARKERS)], color=f"C{k}", markersize=6, alpha=0.85)
        ax.set_xlabel("\N{MINUS SIGN}median lambda_max of the tested models (1/h)")
        ax.set_title(f"back within 1% at {t:g} min", fontsize=9)
    axes[0][0].set_ylabel("runs (%)")
    _tradeoff_legends(fig, rows, groups)
    fig.suptitle(title or "share of runs back after the perturbation, per method and group", fontsize=9)
    out_dir.mkdir(parents=True, exist_ok=True)
    return save_figure(fig, out_dir / "tradeoff")


def _tradeoff_legends(fig, rows: list[dict], groups: list[str]) -> None:
    """Two legends right of the panels: colour = species group, marker shape = method (row)."""
    from matplotlib.lines import Line2D

    colours = [Line2D([], [], linestyle="none", marker="o", color=f"C{k}", label=g) for k, g in enumerate(groups)]
    shapes = [Line2D([], [], linestyle="none", marker=MARKERS[i % len(MARKERS)], color="0.35",
                     label=f"{_short(row['label'])} (n={row['n']})") for i, row in enumerate(rows)]
    fig.legend(handles=colours, loc="outside right upper", fontsize=7, title="group (colour)", title_fontsize=7)
    fig.legend(handles=shapes, loc="outside right lower", fontsize=7, title="method (marker)", title_fontsize=7)


def _short(label: str, width: int = 40) -> str:
    """``label`` cut to ``width`` characters from the left (a population's path keeps its file name)."""
    return label if len(label) <= width else "\N{HORIZONTAL ELLIPSIS}" + label[-(width - 1):]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state", type=Path, default=shipped_state("showcase"))
    parser.add_argument("--iterations", type=int, default=80)
    parser.add_argument("--checks", default="5,10,20,40,80")
    parser.add_argument("--models", type=int, default=40)
    parser.add_argument("--times", default="24,34,60")
    parser.add_argument("--population", type=Path, action="append", default=[])
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "figures" / "dynamics")
    args = parser.parse_args()

    cm = compile_model(load_model(ROOT / "src" / "renaissance" / "data" / "ecoli_varma_curated.yaml"))
    state = read_steady_state(args.state)
    stability = prepare_stability(cm, state)
    problem = robustness_problem(model_for_state(cm, state), state)
    settings = RobustnessSettings(times_min=tuple(float(t) for t in args.times.split(",")), seed=args.seed)
    checks = {int(c) for c in args.checks.split(",")}
    picked = []

    def keep(iteration, ln_km, lam):
        valid = np.flatnonzero(lam <= -2.5)[: args.models]
        if iteration in checks and len(valid):
            picked.append((f"search, iteration {iteration}", ln_km[valid], lam[valid]))

    search = SearchSettings(iterations=args.iterations, sets_per_iteration=200, stop_incidence=None)
    search_fast_km(stability, search, np.random.default_rng(args.seed), on_iteration=keep)
    rows = [study_row(label, problem, stability, k, lam, settings, args.workers) for label, k, lam in picked]
    for path in args.population:
        from renaissance.parameterised import read_population

        pop = read_population(path)
        valid = np.flatnonzero(pop.valid)[: args.models]
        ln_km = np.log(pop.km[valid])
        rows.append(study_row(f"population {path}", problem, stability, ln_km, pop.lambda_max[valid], settings,
                              args.workers))

    rows.sort(key=lambda r: -r["lambda"])  # slowest first
    times = settings.times_min
    print(f"state {args.state}: share of runs back within 1% after +-50% (times {args.times} min)")
    print(f"{'point':42s} {'median lambda_max':>17s} " + " ".join(f"{g:>17s}" for g in GROUPS) + "  escaped  last at 24 min")
    for row in rows:
        cells = " ".join(f"{'/'.join(f'{100 * v:.0f}' for v in row['fractions'][g]):>17s}" for g in GROUPS)
        slow = ", ".join(f"{s} {100 * f:.0f}%" for s, f in row["slowest"])
        print(f"{row['label'][:42]:42s} {row['lambda']:17.2f} {cells}  {row['escaped']:3d}/{row['n']:<3d}  {slow}")

    title = f"state {args.state.name}: share of runs back within 1% after \N{PLUS-MINUS SIGN}50%"
    print("figure:", plot_tradeoff(rows, times, args.out, title)[0])


if __name__ == "__main__":
    main()
