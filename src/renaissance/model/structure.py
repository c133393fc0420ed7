"""Stoichiometry and conservation analysis.

Variables are ordered as SKiMpy orders them (first appearance over reactions in file order,
roles then modifier species; boundary species skipped). Conserved moieties come from an exact
rational left null space of the stoichiometric matrix, reduced to row-echelon form whose pivots
are the dependent species (as SKiMpy's ``prepare()``).

Coefficients are rationalised one by one with ``Fraction(x).limit_denominator()`` (denominators
up to 1e6), as SKiMpy does before its integer null space: a decimal coefficient such as 0.0709
is meant as 709/10000, while its binary float is not, and converting the float exactly makes a
lumped biomass reaction break pools that hold (SKiMpy's kin_varma: 5 pools found instead of 6).
Unlike SKiMpy, the scaled column is not truncated to integers; the arithmetic stays exact. The
number of relations found is checked against the numerical rank deficiency of S.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..errors import ModelFormatError
from .kinetic_model import KineticModel

#: largest denominator of a rationalised stoichiometric coefficient (SKiMpy's limit_denominator default)
MAX_DENOMINATOR = 1_000_000


@dataclass(frozen=True)
class Structure:
    """Structural facts of a model.

    Attributes
    ----------
    variables : list of str
        Balanced (non-boundary) species, SKiMpy order; length n_var.
    boundary : list of str
        Constant-concentration species; length n_bnd.
    reactions : list of str
        Reaction ids in file order; length n_rxn.
    S : ndarray, shape (n_var, n_rxn)
        Stoichiometric matrix of the variables.
    S_boundary : ndarray, shape (n_bnd, n_rxn)
        Stoichiometry of the boundary species (exchange with the environment).
    weights : ndarray, shape (n_var,)
        Volume factor cell_volume/volume of each variable's compartment: dx/dt = w * (S v).
    conservation : ndarray, shape (n_pool, n_var)
        Reduced row-echelon basis L0 of the left null space (L0 @ S == 0, exact).
    independent, dependent : ndarray of int
        Indices into ``variables``; ``dependent`` are the pivots of ``conservation``.
    link : ndarray, shape (n_var, n_indep)
        d x / d x_indep: identity rows for independent species; for a dependent species the
        derivative from holding every pool sum(L0 x / w) constant.
    """

    variables: list[str]
    boundary: list[str]
    reactions: list[str]
    S: np.ndarray
    S_boundary: np.ndarray
    weights: np.ndarray
    conservation: np.ndarray
    independent: np.ndarray
    dependent: np.ndarray
    link: np.ndarray

    @property
    def n_independent(self) -> int:
        """Size of the reduced Jacobian."""
        return len(self.independent)

    def pools(self) -> list[dict[str, float]]:
        """Conserved moieties as {species: coefficient} (coefficients of x / w)."""
        return [
            {self.variables[j]: float(c) for j, c in enumerate(row) if c != 0} for row in self.conservation
        ]


def variable_order(model: KineticModel) -> list[str]:
    """Non-boundary species in SKiMpy's order of first appearance."""
    boundary = set(model.boundary_species)
    order: dict[str, None] = {}
    for rxn in model.reactions.values():
        order.update(dict.fromkeys(s for s in rxn.species_in_order() if s not in boundary))
    return list(order)


def analyse_structure(model: KineticModel) -> Structure:
    """Stoichiometry, volume weights and conserved moieties of ``model``."""
    variables = variable_order(model)
    boundary_set = set(model.boundary_species)
    boundary = [s for s in dict.fromkeys(
        s for rxn in model.reactions.values() for s in rxn.species_in_order()) if s in boundary_set]
    reactions = list(model.reactions)
    vindex = {s: i for i, s in enumerate(variables)}
    bindex = {s: i for i, s in enumerate(boundary)}
    S = np.zeros((len(variables), len(reactions)))
    S_boundary = np.zeros((len(boundary), len(reactions)))
    for k, rxn in enumerate(model.reactions.values()):
        for sid, coeff in rxn.net_stoichiometry().items():
            if sid in vindex:
                S[vindex[sid], k] = coeff
            else:
                S_boundary[bindex[sid], k] = coeff
    weights = np.array([model.volume_weight(model.species[s]) for s in variables])

    conservation = left_null_space(S)
    _check_rank(S, len(conservation), model, reactions)
    dependent = np.array([np.flatnonzero(row)[0] for row in conservation], dtype=int)
    independent = np.array([j for j in range(len(variables)) if j not in set(dependent)], dtype=int)

    link = np.zeros((len(variables), len(independent)))
    link[independent, np.arange(len(independent))] = 1.0
    if len(dependent):
        F = conservation / weights  # pools are sums of x / w
        link[dependent] = -np.linalg.solve(F[:, dependent], F[:, independent])
    return Structure(variables, boundary, reactions, S, S_boundary, weights, conservation,
                     independent, dependent, link)


def dependent_note(model: KineticModel, structure: Structure) -> str | None:
    """One line when the file's ``dependent_reactants`` differ from the dependent species the
    conservation analysis chose (None when they agree or the file declares none)."""
    declared = list(model.dependent_reactants)
    chosen = [structure.variables[i] for i in structure.dependent]
    if not declared or set(declared) == set(chosen):
        return None
    return (f"the file declares dependent reactants {sorted(declared)}; the exact conservation analysis "
            f"makes {sorted(chosen)} dependent (pivots of the row-echelon pools, as SKiMpy's prepare()): "
            f"{len(chosen)} pools, the declared list is not used")


def rational(coefficient: float) -> Fraction:
    """The fraction a stoichiometric coefficient stands for: the closest one with a denominator
    of at most :data:`MAX_DENOMINATOR` (exact for integers and binary fractions such as 0.25)."""
    return Fraction(coefficient).limit_denominator(MAX_DENOMINATOR)


def _check_rank(S: np.ndarray, n_relations: int, model: KineticModel, reactions: list[str]) -> None:
    """The exact relations must be as many as the numerical rank deficiency of S (else the
    rationalised coefficients are not what the file means)."""
    deficiency = S.shape[0] - (np.linalg.matrix_rank(S) if S.size else 0)
    if n_relations != deficiency:
        inexact = [r for k, r in enumerate(reactions)
                   if any(float(rational(c)) != c for c in S[:, k] if c)]
        raise ModelFormatError(
            f"model '{model.name}': {n_relations} exact conservation relations but the stoichiometric matrix is "
            f"rank deficient by {deficiency}; coefficients that are not fractions with denominators <= "
            f"{MAX_DENOMINATOR:,} in reactions {inexact[:5]}: write them as exact decimals")


def left_null_space(S: np.ndarray) -> np.ndarray:
    """Exact reduced row-echelon basis of {y : y^T S = 0} for the stoichiometric matrix ``S``
    (n_var, n_rxn), its coefficients rationalised (:func:`rational`); shape (n_rel, n_var)."""
    columns = [{i: rational(c) for i, c in enumerate(column) if c} for column in np.asarray(S, dtype=float).T]
    basis = _left_null_space_rref(columns, S.shape[0])
    return np.array([[float(c) for c in row] for row in basis]).reshape(len(basis), S.shape[0])


def _left_null_space_rref(columns: list[dict[int, Fraction]], n: int) -> list[list[Fraction]]:
    """Exact RREF basis of {y : y^T S = 0}; ``columns`` are the sparse columns of S (rows of S^T)."""
    # Gauss-Jordan on the rows of S^T (sparse dicts); the null space of S^T is the left null space of S.
    pivots: dict[int, dict[int, Fraction]] = {}
    for row in columns:
        row = dict(row)
        for col, prow in pivots.items():  # eliminate existing pivots
            _subtract_multiple(row, prow, row.get(col))
        if not row:
            continue
        col = min(row)
        lead = row[col]
        row = {j: c / lead for j, c in row.items()}
        for other in pivots.values():  # keep the basis fully reduced
            _subtract_multiple(other, row, other.get(col))
        pivots[col] = row
    free = [j for j in range(n) if j not in pivots]
    basis = []
    for f in free:
        y = [Fraction(0)] * n
        y[f] = Fraction(1)
        for col, prow in pivots.items():
            y[col] = -prow.get(f, Fraction(0))
        basis.append(y)
    return _rref(basis)


def _subtract_multiple(target: dict[int, Fraction], source: dict[int, Fraction], factor) -> None:
    """target -= factor * source for sparse rows (in place; exact zeros removed)."""
    if not factor:
        return
    for j, c in source.items():
        value = target.get(j, 0) - factor * c
        if value:
            target[j] = value
        else:
            target.pop(j, None)


def _rref(rows: list[list[Fraction]]) -> list[list[Fraction]]:
    rows = [list(r) for r in rows]
    n_cols = len(rows[0]) if rows else 0
    r = 0
    for c in range(n_cols):
        pivot = next((i for i in range(r, len(rows)) if rows[i][c] != 0), None)
        if pivot is None:
            continue
        rows[r], rows[pivot] = rows[pivot], rows[r]
        lead = rows[r][c]
        rows[r] = [v / lead for v in rows[r]]
        for i in range(len(rows)):
            if i != r and rows[i][c] != 0:
                f = rows[i][c]
                rows[i] = [a - f * b for a, b in zip(rows[i], rows[r])]
        r += 1
    return rows[:r]
