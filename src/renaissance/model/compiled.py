"""Compile a :class:`KineticModel` once into dense exponent arrays.

With ``ln x`` the log concentrations of all species (variables then boundary) and ``ln K`` the
log Michaelis constants (model units), every net rate with ``V = 1`` is

    g_k = exp(P_k . lnK) * (exp(Af_k . lnx) - exp(Ab_k . lnx - ln Keq_k)) / prod_{d in k} D_d
    D_d = sum_{m in d} exp(Ax_m . lnx + AK_m . lnK)

and ``v_k = V_k g_k``. Everything downstream (rates, elasticities, Vmax back-calculation,
Jacobians, thermodynamic constraints) is matrix products with these arrays: no per-reaction
Python code runs after compilation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .kinetic_model import KineticModel
from .mechanisms import apply_modifier, rate_form
from .structure import Structure, analyse_structure


@dataclass(frozen=True)
class CompiledModel:
    """Array form of a kinetic model (see module docstring for the formula).

    Shapes: n_sp = n_var + n_bnd species (variables first), n_rxn reactions, n_km declared Km
    (``km_names``, the generator's order), n_mono denominator monomials, n_den denominators.

    Attributes
    ----------
    structure : Structure
    species : list of str
        ``structure.variables + structure.boundary``.
    km_names : list of str
        All declared Km; those that enter no rate have all-zero columns.
    km_used : ndarray of bool, shape (n_km,)
    forward, backward : ndarray, shape (n_rxn, n_sp)
        Exponents of T_f and T_b (modifiers folded in).
    reversible : ndarray of bool, shape (n_rxn,)
    ln_keq : ndarray, shape (n_rxn,)
        ln Keq (model units); +inf for irreversible reactions.
    prefactor : ndarray, shape (n_rxn, n_km)
    mono_x : ndarray, shape (n_mono, n_sp); mono_km : ndarray, shape (n_mono, n_km)
    mono_den : ndarray of int, shape (n_mono,)   denominator of each monomial (sorted)
    den_rxn : ndarray of int, shape (n_den,)      reaction of each denominator (sorted)
    """

    model: KineticModel
    structure: Structure
    species: list[str]
    km_names: list[str]
    km_used: np.ndarray
    forward: np.ndarray
    backward: np.ndarray
    reversible: np.ndarray
    ln_keq: np.ndarray
    prefactor: np.ndarray
    mono_x: np.ndarray
    mono_km: np.ndarray
    mono_den: np.ndarray
    den_rxn: np.ndarray

    @property
    def n_reactions(self) -> int:
        return len(self.structure.reactions)

    @property
    def displacement(self) -> np.ndarray:
        """(n_rxn, n_sp) exponents of the mass-action ratio Gamma = T_b / T_f."""
        return self.backward - self.forward

    @property
    def mono_rxn(self) -> np.ndarray:
        """(n_mono,) reaction of each monomial."""
        return self.den_rxn[self.mono_den]

    @property
    def mono_to_den(self) -> np.ndarray:
        """(n_mono, n_den) 0/1 membership of monomials in denominators."""
        out = np.zeros((len(self.mono_den), len(self.den_rxn)))
        out[np.arange(len(self.mono_den)), self.mono_den] = 1.0
        return out

    @property
    def den_to_rxn(self) -> np.ndarray:
        """(n_den, n_rxn) 0/1 membership of denominators in reactions."""
        out = np.zeros((len(self.den_rxn), self.n_reactions))
        out[np.arange(len(self.den_rxn)), self.den_rxn] = 1.0
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
    prefactor = np.zeros((n_rxn, n_km))
    mono_x, mono_km, mono_den, den_rxn = [], [], [], []
    km_used = np.zeros(n_km, dtype=bool)

    for k, rxn in enumerate(model.reactions.values()):
        form = rate_form(rxn.mechanism, rxn.id, rxn.roles, rxn.stoichiometry)
        for mod in rxn.modifiers:
            apply_modifier(form, mod.kind, mod.species, mod.stoichiometry)
        for sid, e in form.forward.items():
            forward[k, sindex[sid]] += e
        if form.backward is not None:
            reversible[k] = True
            ln_keq[k] = np.log(model.k_equilibrium(rxn.id))
            for sid, e in form.backward.items():
                backward[k, sindex[sid]] += e
        for name, e in form.prefactor.items():
            prefactor[k, kindex[name]] += e
        for terms in form.denominators:
            den_rxn.append(k)
            for xs, ks in terms:
                row_x, row_k = np.zeros(n_sp), np.zeros(n_km)
                for sid, e in xs.items():
                    row_x[sindex[sid]] += e
                for name, e in ks.items():
                    row_k[kindex[name]] += e
                    km_used[kindex[name]] = True
                mono_x.append(row_x)
                mono_km.append(row_k)
                mono_den.append(len(den_rxn) - 1)
        km_used[[kindex[n] for n in form.prefactor]] = True

    return CompiledModel(
        model=model,
        structure=structure,
        species=species,
        km_names=km_names,
        km_used=km_used,
        forward=forward,
        backward=backward,
        reversible=reversible,
        ln_keq=ln_keq,
        prefactor=prefactor,
        mono_x=np.array(mono_x).reshape(len(mono_x), n_sp),
        mono_km=np.array(mono_km).reshape(len(mono_km), n_km),
        mono_den=np.array(mono_den, dtype=int),
        den_rxn=np.array(den_rxn, dtype=int),
    )
