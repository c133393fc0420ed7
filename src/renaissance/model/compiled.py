"""Compile a :class:`KineticModel` once into dense exponent arrays.

With ``ln x`` the log concentrations of all species (variables then boundary) and ``ln K`` the
log saturation constants (model units), every net rate with ``V = 1`` is

    g_k = exp(P_k . lnK) * (exp(Af_k . lnx) - exp(Ab_k . lnx - ln Keq_k)) * prod_{f in k} F_f^e_f
    F_f = sum_{t in f} c_t S_t^p_t,   S_t = sum_{m in t} M_m,   M_m = exp(Ax_m . lnx + AK_m . lnK)

and ``v_k = V_k g_k`` (see :mod:`renaissance.model.mechanisms`). Everything downstream (rates,
elasticities, Vmax back-calculation, Jacobians, thermodynamic constraints) is matrix products
with these arrays: no per-reaction Python code runs after compilation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .kinetic_model import KineticModel
from .mechanisms import apply_modifier, constant_kind, rate_form
from .structure import Structure, analyse_structure


@dataclass(frozen=True)
class CompiledModel:
    """Array form of a kinetic model (see module docstring for the formula).

    Shapes: n_sp = n_var + n_bnd species (variables first), n_rxn reactions, n_km declared
    constants (``km_names``, the generator's order: Michaelis, inhibition and activation
    constants), n_mono monomials, n_term terms, n_fac factors.

    Attributes
    ----------
    structure : Structure
    species : list of str
        ``structure.variables + structure.boundary``.
    km_names : list of str
        All declared constants; those that enter no rate have all-zero columns.
    km_kinds : ndarray of str, shape (n_km,)
        ``"km"``, ``"ki"`` or ``"ka"`` (Michaelis, inhibition, activation constant).
    km_used : ndarray of bool, shape (n_km,)
    forward, backward : ndarray, shape (n_rxn, n_sp)
        Exponents of T_f and T_b (modifiers folded in).
    reversible : ndarray of bool, shape (n_rxn,)
    ln_keq : ndarray, shape (n_rxn,)
        ln Keq of the rate laws (model units); +inf for irreversible reactions.
    irreversible_ln_keq : ndarray, shape (n_rxn,)
        ln of the stored ``k_equilibrium_<r>`` of irreversible reactions (model units; no rate
        law uses it, but it states the reaction's thermodynamics); NaN for reversible reactions
        and for irreversible ones without a stored (finite, positive) value. See
        :attr:`thermo_ln_keq`.
    prefactor : ndarray, shape (n_rxn, n_km)
    mono_x : ndarray, shape (n_mono, n_sp); mono_km : ndarray, shape (n_mono, n_km)
    mono_term : ndarray of int, shape (n_mono,)   term of each monomial (sorted)
    term_coef, term_power : ndarray, shape (n_term,)   c_t and p_t
    term_fac : ndarray of int, shape (n_term,)    factor of each term (sorted)
    fac_exponent : ndarray, shape (n_fac,)         e_f
    fac_rxn : ndarray of int, shape (n_fac,)      reaction of each factor (sorted)
    """

    model: KineticModel
    structure: Structure
    species: list[str]
    km_names: list[str]
    km_kinds: np.ndarray
    km_used: np.ndarray
    forward: np.ndarray
    backward: np.ndarray
    reversible: np.ndarray
    ln_keq: np.ndarray
    irreversible_ln_keq: np.ndarray
    prefactor: np.ndarray
    mono_x: np.ndarray
    mono_km: np.ndarray
    mono_term: np.ndarray
    term_coef: np.ndarray
    term_power: np.ndarray
    term_fac: np.ndarray
    fac_exponent: np.ndarray
    fac_rxn: np.ndarray

    @property
    def n_reactions(self) -> int:
        return len(self.structure.reactions)

    @property
    def displacement(self) -> np.ndarray:
        """(n_rxn, n_sp) exponents of the mass-action ratio Gamma = T_b / T_f."""
        return self.backward - self.forward

    @property
    def stoichiometry(self) -> np.ndarray:
        """(n_rxn, n_sp) full net stoichiometry of every reaction over ``species`` (variables
        then boundary species): ``[S; S_boundary]`` transposed."""
        return np.vstack([self.structure.S, self.structure.S_boundary]).T

    @property
    def thermo_ln_keq(self) -> np.ndarray:
        """(n_rxn,) ln Keq of the second law (model units): the rate law's for reversible
        reactions (:attr:`ln_keq`), the stored ``k_equilibrium_<r>`` for irreversible ones that
        have one (:attr:`irreversible_ln_keq`), NaN where there is none."""
        return np.where(self.reversible, self.ln_keq, self.irreversible_ln_keq)

    @property
    def thermodynamic(self) -> np.ndarray:
        """(n_rxn,) bool: reactions with a thermodynamic Keq (finite :attr:`thermo_ln_keq`)."""
        return np.isfinite(self.thermo_ln_keq)

    @property
    def thermo_displacement(self) -> np.ndarray:
        """(n_rxn, n_sp) exponents of the thermodynamic mass-action ratio Gamma, so that
        dG/RT = thermo_displacement . (ln x + ln c) - thermo_ln_keq.

        Reversible reactions: :attr:`displacement` (the rate law's own Gamma, which is the one
        the stored Keq refer to; for every reversible reaction of the shipped models it equals
        the full stoichiometry, FirstOrder modifiers such as protons included). Irreversible
        reactions: the full stoichiometry (:attr:`stoichiometry`); their rate law has no
        backward term, so :attr:`displacement` lacks the products.
        """
        return np.where(self.reversible[:, None], self.displacement, self.stoichiometry)

    @property
    def mono_fac(self) -> np.ndarray:
        """(n_mono,) factor of each monomial."""
        return self.term_fac[self.mono_term]

    @property
    def mono_rxn(self) -> np.ndarray:
        """(n_mono,) reaction of each monomial."""
        return self.fac_rxn[self.mono_fac]

    @property
    def reads(self) -> np.ndarray:
        """(n_rxn, n_sp) bool: species each rate law depends on (forward term, backward term if
        reversible, or any factor monomial)."""
        in_factors = np.zeros(self.forward.shape)
        np.add.at(in_factors, self.mono_rxn, self.mono_x != 0)
        return (self.forward != 0) | ((self.backward != 0) & self.reversible[:, None]) | (in_factors > 0)

    @property
    def simple_terms(self) -> bool:
        """True when every term is one monomial with coefficient and power 1 (then S = T = M)."""
        return bool(len(self.term_fac) == len(self.mono_term) and np.all(self.term_coef == 1)
                    and np.all(self.term_power == 1))

    def membership(self, what: str) -> np.ndarray:
        """0/1 membership matrix: ``"mono_term"`` (n_mono, n_term), ``"mono_fac"`` (n_mono,
        n_fac), ``"term_fac"`` (n_term, n_fac) or ``"fac_rxn"`` (n_fac, n_rxn)."""
        rows, n_cols = {
            "mono_term": (self.mono_term, len(self.term_fac)),
            "mono_fac": (self.mono_fac, len(self.fac_rxn)),
            "term_fac": (self.term_fac, len(self.fac_rxn)),
            "fac_rxn": (self.fac_rxn, self.n_reactions),
        }[what]
        out = np.zeros((len(rows), n_cols))
        out[np.arange(len(rows)), rows] = 1.0
        return out


def compile_model(model: KineticModel, structure: Structure | None = None) -> CompiledModel:
    """Build the :class:`CompiledModel` of ``model`` (pure; ``model`` is not modified)."""
    structure = structure or analyse_structure(model)
    species = structure.variables + structure.boundary
    sindex = {s: i for i, s in enumerate(species)}
    km_names = model.km_names
    kindex = {name: i for i, name in enumerate(km_names)}
    n_rxn, n_sp, n_km = len(structure.reactions), len(species), len(km_names)

    forward = np.zeros((n_rxn, n_sp))
    backward = np.zeros((n_rxn, n_sp))
    reversible = np.zeros(n_rxn, dtype=bool)
    ln_keq = np.full(n_rxn, np.inf)
    irreversible_ln_keq = np.full(n_rxn, np.nan)
    prefactor = np.zeros((n_rxn, n_km))
    mono_x, mono_km, mono_term = [], [], []
    term_coef, term_power, term_fac, fac_exponent, fac_rxn = [], [], [], [], []
    km_used = np.zeros(n_km, dtype=bool)

    for k, rxn in enumerate(model.reactions.values()):
        fixed = {name: model.parameters[name] for name in rxn.fixed_parameter_names}
        form = rate_form(rxn.mechanism, rxn.id, rxn.roles, rxn.stoichiometry, rxn.inhibitors, fixed)
        for mod in rxn.modifiers:
            apply_modifier(form, mod.kind, mod.species, mod.stoichiometry, rxn.id, fixed)
        for sid, e in form.forward.items():
            forward[k, sindex[sid]] += e
        if form.backward is not None:
            reversible[k] = True
            ln_keq[k] = np.log(model.k_equilibrium(rxn.id))
            for sid, e in form.backward.items():
                backward[k, sindex[sid]] += e
        else:
            keq = model.k_equilibrium(rxn.id)
            if keq is not None and np.isfinite(keq) and keq > 0:
                irreversible_ln_keq[k] = np.log(keq)
        for name, e in form.prefactor.items():
            prefactor[k, kindex[name]] += e
            km_used[kindex[name]] = True
        for factor in form.factors:
            fac_rxn.append(k)
            fac_exponent.append(factor.exponent)
            for term in factor.terms:
                term_fac.append(len(fac_rxn) - 1)
                term_coef.append(term.coefficient)
                term_power.append(term.power)
                for xs, ks in term.monomials:
                    row_x, row_k = np.zeros(n_sp), np.zeros(n_km)
                    for sid, e in xs.items():
                        row_x[sindex[sid]] += e
                    for name, e in ks.items():
                        row_k[kindex[name]] += e
                        km_used[kindex[name]] = True
                    mono_x.append(row_x)
                    mono_km.append(row_k)
                    mono_term.append(len(term_fac) - 1)

    return CompiledModel(
        model=model,
        structure=structure,
        species=species,
        km_names=km_names,
        km_kinds=np.array([constant_kind(n) for n in km_names], dtype=object),
        km_used=km_used,
        forward=forward,
        backward=backward,
        reversible=reversible,
        ln_keq=ln_keq,
        irreversible_ln_keq=irreversible_ln_keq,
        prefactor=prefactor,
        mono_x=np.array(mono_x).reshape(len(mono_x), n_sp),
        mono_km=np.array(mono_km).reshape(len(mono_km), n_km),
        mono_term=np.array(mono_term, dtype=int),
        term_coef=np.array(term_coef, dtype=float),
        term_power=np.array(term_power, dtype=float),
        term_fac=np.array(term_fac, dtype=int),
        fac_exponent=np.array(fac_exponent, dtype=float),
        fac_rxn=np.array(fac_rxn, dtype=int),
    )
