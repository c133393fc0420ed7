"""State features, PCA -> t-SNE maps in polar form, and neighbourhood statistics of a landscape.

Features of a state: ln concentration (mol/L) of every species that varies between states and
every non-zero net flux (mmol/gDW/h), each column standardised; PCA keeps the components that
explain ``variance`` of the total, and t-SNE (openTSNE, seeded) embeds them in 2-D. Polar transform
(our reading of the paper's figures): each point's angle around the embedding's centroid is kept
and its radius replaced by sqrt(rank of its distance to the centroid / number of states), so the
points fill the unit disc with even density and t-SNE's clusters stay angular sectors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..model.compiled import CompiledModel
from ..settings import UnitSettings
from ..steadystate import SteadyState
from ..steadystate.table import displacement, model_for_state, pool_turnover, state_arrays


@dataclass(frozen=True)
class StateMatrix:
    """Sampled states as arrays: ``ln_x`` (N, n_sp) ln(x / (mol/L)), ``v`` (N, n_rxn) mmol/gDW/h,
    ``dg_rt`` (N, n_rxn) dG/RT (NaN for irreversible reactions), ``turnover`` (N, n_var) 1/h:
    the rate at which each balanced species' pool is turned over, w_i sum_k |S_ik v_k| / (2 x_i)."""

    species: tuple[str, ...]
    reactions: tuple[str, ...]
    ln_x: np.ndarray
    v: np.ndarray
    dg_rt: np.ndarray
    balanced: tuple[str, ...] = ()
    turnover: np.ndarray | None = None


def state_matrix(cm: CompiledModel, states: list[SteadyState], units: UnitSettings = UnitSettings()) -> StateMatrix:
    """Arrays of ``states`` aligned with ``cm`` (model units converted back to mol/L and mmol/gDW/h)."""
    st = cm.structure
    ln_x, v, dg, turnover = [], [], [], []
    for state in states:
        arrays = state_arrays(cm, state, units)
        ln_x.append(arrays.ln_x - units.log_concentration_scale)
        v.append(arrays.v / units.flux_factor)
        with np.errstate(invalid="ignore"):
            dg.append(np.where(cm.reversible, displacement(model_for_state(cm, state), arrays.ln_x), np.nan))
        turnover.append(pool_turnover(cm, arrays))
    return StateMatrix(tuple(cm.species), tuple(st.reactions), np.array(ln_x), np.array(v), np.array(dg),
                       tuple(st.variables), np.array(turnover))


def pca_features(matrix: StateMatrix, variance: float = 0.9) -> np.ndarray:
    """(N, k) principal-component scores of the standardised (ln x, v) features; k (>= 2) explains
    ``variance`` of the total."""
    X = np.hstack([matrix.ln_x, matrix.v])
    sd = X.std(axis=0)
    X = (X[:, sd > 1e-12] - X.mean(axis=0)[sd > 1e-12]) / sd[sd > 1e-12]
    U, s, _ = np.linalg.svd(X, full_matrices=False)
    explained = np.cumsum(s**2) / np.sum(s**2)
    k = max(int(np.searchsorted(explained, variance) + 1), min(2, len(s)))  # t-SNE's PCA start needs 2
    return U[:, :k] * s[:k]


def tsne_embedding(features: np.ndarray, seed: int = 0, perplexity: float = 30.0, n_jobs: int = 1) -> np.ndarray:
    """(N, 2) openTSNE embedding of (N, k) features (deterministic for a seed and ``n_jobs``)."""
    from openTSNE import TSNE

    perplexity = min(perplexity, max(2.0, (len(features) - 1) / 3))
    return np.asarray(TSNE(perplexity=perplexity, random_state=seed, n_jobs=n_jobs, verbose=False).fit(features))


def polar_transform(embedding: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(theta (N,) radians, r (N,) in (0, 1]) of a 2-D embedding (module docstring)."""
    centred = embedding - embedding.mean(axis=0)
    theta = np.arctan2(centred[:, 1], centred[:, 0])
    distance = np.hypot(centred[:, 0], centred[:, 1])
    rank = np.argsort(np.argsort(distance, kind="stable"), kind="stable") + 1
    return theta, np.sqrt(rank / len(distance))  # equal area per point


def neighbour_agreement(embedding: np.ndarray, labels: np.ndarray, k: int = 10) -> tuple[float, float]:
    """(observed, expected): mean fraction of each point's ``k`` nearest neighbours in the
    embedding that share its (boolean) label, and the same fraction if labels were placed at random."""
    from scipy.spatial import cKDTree

    labels = np.asarray(labels, dtype=bool)
    k = min(k, len(labels) - 1)
    _, neighbours = cKDTree(embedding).query(embedding, k + 1)
    observed = float(np.mean(labels[neighbours[:, 1:]] == labels[:, None]))
    p = labels.mean()
    return observed, float(p**2 + (1 - p) ** 2)


def plot_map(theta: np.ndarray, r: np.ndarray, best_lambda_max: np.ndarray, robust_fraction: np.ndarray,
             threshold: float, stem) -> list:
    """Two polar panels: best lambda_max (diverging at ``threshold``: blue admits valid models, red
    does not) and the robustness of the valid models; PNG + SVG."""
    from matplotlib.colors import TwoSlopeNorm

    from .._plotting import pyplot, save_figure

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 5), subplot_kw={"projection": "polar"})
    lam = np.clip(np.where(np.isfinite(best_lambda_max), best_lambda_max, 0.0), threshold - 4, 0.0)
    points = axes[0].scatter(theta, r, c=lam, s=4, cmap="coolwarm",
                             norm=TwoSlopeNorm(vcenter=threshold, vmin=threshold - 4, vmax=0.0))
    fig.colorbar(points, ax=axes[0], label="best λmax (1/h), clipped")
    axes[0].set_title("Fastest dynamics found per state")
    known = np.isfinite(robust_fraction)
    axes[1].scatter(theta[~known], r[~known], c="lightgrey", s=4, label="no valid model")
    points = axes[1].scatter(theta[known], r[known], c=robust_fraction[known], s=4, cmap="viridis", vmin=0, vmax=1)
    fig.colorbar(points, ax=axes[1], label="fraction of models back after perturbation")
    axes[1].set_title("Nonlinear robustness of valid models")
    axes[1].legend(loc="lower left", fontsize=8)
    for ax in axes:  # angle and rank radius carry no units
        ax.set_xticklabels([])
        ax.set_yticklabels([])
    return save_figure(fig, stem)
