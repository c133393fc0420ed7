"""Which metabolite ranges (and reaction displacements) separate two classes of states.

For every feature (ln concentration of a species, dG/RT of a reversible reaction, ln turnover
rate of a balanced species' pool, and the slowest of those turnover rates) and two classes of states (e.g. admits fast dynamics or not), :func:`separating_ranges` reports each
class's 5/50/95% quantiles, the area under the ROC curve of the feature as a classifier (AUC:
the probability that a random state of the positive class has a smaller value than one of the
negative class; 0.5 = no separation, 1 = positives always below, 0 = always above) and the best
single threshold: the cut ``feature below t`` (or ``above``) that maximises the balanced accuracy
(mean of the true-positive and true-negative rates). Features are ranked by |AUC - 0.5|.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from .maps import StateMatrix

QUANTILES = (0.05, 0.5, 0.95)
SLOWEST = "slowest pool"  # the feature: min over balanced species of the turnover rate
#: kinds a sampler can constrain (turnover depends on fluxes and concentrations together)
SAMPLER_KINDS = ("concentration", "dg_rt")


@dataclass(frozen=True)
class Separation:
    """One feature: ``kind`` 'concentration' (values in mol/L), 'dg_rt' or 'turnover' (1/h);
    ``direction`` 'below' or 'above': positives lie ``direction`` ``threshold``; quantiles per
    class in the same units."""

    feature: str
    kind: str
    auc: float
    threshold: float
    direction: str
    balanced_accuracy: float
    positive_quantiles: tuple[float, float, float]
    negative_quantiles: tuple[float, float, float]

    @property
    def strength(self) -> float:
        return abs(self.auc - 0.5)

    def describe(self, positive: str = "fast") -> str:
        if self.kind == "concentration":
            what, value = self.feature, f"{self.threshold * 1e3:.3g} mM"
        elif self.kind == "turnover":
            what, value = f"turnover of {self.feature}", f"{self.threshold:.3g} 1/h"
        else:
            what, value = self.feature, f"{self.threshold:.3g} (dG/RT)"
        return (f"{what} {self.direction} {value}: AUC {self.auc:.2f}, balanced accuracy "
                f"{self.balanced_accuracy:.2f} for {positive} states")


def auc_below(values: np.ndarray, positive: np.ndarray) -> float:
    """P(value of a positive < value of a negative) with ties counted 1/2 (Mann-Whitney U)."""
    pos, neg = values[positive], values[~positive]
    if len(pos) == 0 or len(neg) == 0:
        return math.nan
    ranks = rankdata(-values)  # larger value -> smaller rank
    return float((ranks[positive].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def best_threshold(values: np.ndarray, positive: np.ndarray) -> tuple[float, str, float]:
    """(threshold, 'below'|'above', balanced accuracy) of the best single cut."""
    order = np.argsort(values, kind="stable")
    v, p = values[order], positive[order]
    n_pos, n_neg = p.sum(), (~p).sum()
    # cut after position i: below = v[:i+1]
    tpr_below = np.cumsum(p) / n_pos
    tnr_below = ((~p).sum() - np.cumsum(~p)) / n_neg
    acc_below = (tpr_below + tnr_below) / 2
    acc_above = 1.0 - acc_below  # the complementary classifier
    distinct = np.r_[v[1:] > v[:-1], False]  # cuts only between distinct values
    acc_below, acc_above = np.where(distinct, acc_below, -1), np.where(distinct, acc_above, -1)
    i_below, i_above = int(np.argmax(acc_below)), int(np.argmax(acc_above))
    if acc_below[i_below] >= acc_above[i_above]:
        i, direction, accuracy = i_below, "below", acc_below[i_below]
    else:
        i, direction, accuracy = i_above, "above", acc_above[i_above]
    if accuracy < 0:
        return math.nan, "below", 0.5
    return float((v[i] + v[i + 1]) / 2), direction, float(accuracy)


def separating_ranges(matrix: StateMatrix, positive: np.ndarray, mask: np.ndarray | None = None) -> list[Separation]:
    """Rank every varying concentration and dG/RT by how well it separates ``positive`` (N,) bool
    from the other states (only states in ``mask``, default all); strongest first."""
    mask = np.ones(len(positive), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    positive = np.asarray(positive, dtype=bool)[mask]
    if positive.all() or not positive.any():
        return []
    features = [("concentration", name, matrix.ln_x[mask, i]) for i, name in enumerate(matrix.species)]
    features += [("dg_rt", name, matrix.dg_rt[mask, k]) for k, name in enumerate(matrix.reactions)
                 if np.all(np.isfinite(matrix.dg_rt[mask, k]))]
    if matrix.turnover is not None:
        ln_turnover = np.log(matrix.turnover[mask])
        features += [("turnover", name, ln_turnover[:, i]) for i, name in enumerate(matrix.balanced)]
        features.append(("turnover", SLOWEST, ln_turnover.min(axis=1)))
    out = []
    for kind, name, values in features:
        if np.ptp(values) <= 1e-12 * max(1.0, np.abs(values).max()):
            continue
        threshold, direction, accuracy = best_threshold(values, positive)
        to_units = (lambda a: a) if kind == "dg_rt" else np.exp
        q = [tuple(float(x) for x in to_units(np.quantile(values[c], QUANTILES))) for c in (positive, ~positive)]
        out.append(Separation(name, kind, auc_below(values, positive), float(to_units(threshold)), direction,
                              accuracy, q[0], q[1]))
    return sorted(out, key=lambda s: -s.strength)


def ranges_csv(rankings: dict[str, list[Separation]]) -> str:
    """CSV of several rankings (key: what the positive class is, e.g. 'fast', 'robust')."""
    lines = ["question,rank,feature,kind,auc,threshold,direction,balanced_accuracy,"
             "positive_q05,positive_q50,positive_q95,negative_q05,negative_q50,negative_q95"]
    for question, ranking in rankings.items():
        for rank, s in enumerate(ranking, start=1):
            numbers = [s.auc, s.threshold, s.direction, s.balanced_accuracy, *s.positive_quantiles, *s.negative_quantiles]
            lines.append(",".join([question, str(rank), s.feature, s.kind] + [n if isinstance(n, str) else repr(n) for n in numbers]))
    return "\n".join(lines) + "\n"


def plot_ranges(ranking: list[Separation], positive: str, negative: str, stem, top: int = 12) -> list:
    """5-50-95% ranges of the ``top`` concentrations of a ranking for both classes; PNG + SVG."""
    from .._plotting import pyplot, save_figure

    plt = pyplot()
    shown = [s for s in ranking if s.kind == "concentration"][:top]
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(shown) + 1.5))
    for row, s in enumerate(shown):
        for offset, q, colour in ((-0.15, s.positive_quantiles, "tab:blue"), (0.15, s.negative_quantiles, "tab:red")):
            ax.plot([q[0] * 1e3, q[2] * 1e3], [row + offset] * 2, color=colour, lw=2)
            ax.plot(q[1] * 1e3, row + offset, "o", color=colour, ms=4)
        ax.plot(s.threshold * 1e3, row, "|", color="black", ms=12)
    ax.plot([], [], color="tab:blue", lw=2, label=positive)
    ax.plot([], [], color="tab:red", lw=2, label=negative)
    ax.plot([], [], "|", color="black", ms=10, label="best threshold")
    ax.set_yticks(range(len(shown)), [f"{s.feature} (AUC {s.auc:.2f})" for s in shown])
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("concentration (mM), 5-50-95% of states")
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return save_figure(fig, stem)
