"""SBML Level 3 export (and import of what the exporter writes) of one parameterised model.

The rate laws are rendered from the per-reaction description of the one rate law
(:func:`renaissance.model.ratelaw.reaction_laws`), so every mechanism and modifier of the model
file is exported by the same code:

    v_k = V_k * prod_j K_j^P_kj * (prod_i x_i^Af_ki - prod_i x_i^Ab_ki / Keq_k) * prod_f F_f^e_f,
    F_f = sum_t c_t (sum_m prod_i x_i^Ax_mi prod_j K_j^AK_mj)^p_t

(irreversible reactions: no backward term; factors with e_f = -1 are written as a division;
Hill coefficients and a_max appear as numbers, full precision). Units are the model's: concentrations in
1/``concentration_scale`` mol/L (nmol/L by default), time in hours, so the substance unit is
nmol (litre volumes) and Km, Vmax and Keq keep their model-unit values. Compartment sizes are
``volume_<c> / cell_volume_<c>``, so that SBML's d[x]/dt = sum_k S_ik v_k / size equals the
model's dx/dt = w_i sum_k S_ik v_k. Boundary species are constant. SBML ids must match
``[A-Za-z_][A-Za-z0-9_]*``: other characters become ``_`` and the model's id is kept as the
element's name (``R-1`` -> id ``R_1``, name ``R-1``).

libSBML writes doubles with 15 significant digits, so values read back agree to ~5e-15
relative. Import (:func:`read_sbml`) reads back exactly this subset: species with their compartments,
initial concentrations and boundary flags, the parameters by name, each reaction's id and its
kinetic law. :func:`import_parameter_set` trusts none of it: every kinetic law must give the
model's rate law (evaluated with libSBML's parse of the law at the file's values and at
:data:`LAW_POINTS` perturbed points), and the file's concentrations must be a steady state of
the file's own laws, else one :class:`SBMLError` names the file and the reaction or species.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from functools import reduce
from pathlib import Path

import numpy as np

from .._files import write_text_atomic
from ..errors import RenaissanceError, located
from ..model.compiled import CompiledModel
from ..model.ratelaw import ReactionLaw, Term, rate_laws, reaction_laws
from ..settings import UnitSettings
from ..steadystate.table import SteadyState, model_for_state, state_arrays, validate_steady_state

_SID = re.compile(r"[^A-Za-z0-9_]")


class SBMLError(RenaissanceError):
    """An SBML file that cannot be written or read back."""


def sid(name: str) -> str:
    """A valid SBML SId for ``name`` (module docstring)."""
    out = _SID.sub("_", name)
    return out if re.match(r"[A-Za-z_]", out) else "_" + out


def _libsbml():
    try:
        import libsbml
    except ImportError:
        raise SBMLError("SBML needs python-libsbml: pip install python-libsbml") from None
    return libsbml


def _check(result: int, what: str) -> None:
    libsbml = _libsbml()
    if result != libsbml.LIBSBML_OPERATION_SUCCESS:
        raise SBMLError(f"libSBML could not set {what}: {libsbml.OperationReturnValue_toString(result)}")


def _number(value: float) -> str:
    """A float in full precision (integers without a decimal point)."""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))


def _power(symbol: str, exponent: float) -> str:
    if exponent == 1:
        return symbol
    return f"{symbol}^{_number(exponent)}" if exponent > 0 else f"{symbol}^({_number(exponent)})"


def _product(symbols, exponents) -> str:
    terms = [_power(s, e) for s, e in zip(symbols, exponents) if e != 0]
    return " * ".join(terms) if terms else "1"


def rate_formulas(cm: CompiledModel) -> list[str]:
    """SBML L3 infix formula of every reaction's net rate (symbols: species, Km, Vmax, Keq ids),
    rendered from :func:`renaissance.model.ratelaw.reaction_laws`."""
    x = [sid(s) for s in cm.species]
    km = [sid(k) for k in cm.km_names]
    return [_formula(law, sid(reaction), x, km) for reaction, law in zip(cm.structure.reactions, reaction_laws(cm))]


def _formula(law: ReactionLaw, r: str, x: list[str], km: list[str]) -> str:
    """``vmax * prefactor * (drive) * gains / (denominators)`` of one reaction with SBML id ``r``."""
    forward = _product(x, law.forward)
    drive = f"({forward})" if law.backward is None else f"({forward} - {_product(x, law.backward)} / k_equilibrium_{r})"
    sums = [(factor.exponent, "(" + " + ".join(_term(t, x, km) for t in factor.terms) + ")") for factor in law.factors]
    dens = [text for exponent, text in sums if exponent == -1]
    gains = [_power(text, exponent) for exponent, text in sums if exponent not in (-1, 0)]
    formula = " * ".join([f"vmax_forward_{r}", _product(km, law.prefactor), drive, *gains])
    return formula + (" / (" + " * ".join(dens) + ")" if dens else "")


def _term(term: Term, x: list[str], km: list[str]) -> str:
    """``c * (M_1 + M_2 + ...)^p`` of one term (coefficient and power left out when 1)."""
    monomials = [f"{_product(x, mono_x)} * {_product(km, mono_km)}" for mono_x, mono_km in term.monomials]
    text = " + ".join(monomials)
    if term.power != 1:
        text = _power(f"({text})", term.power)
    elif len(monomials) > 1 and term.coefficient != 1:
        text = f"({text})"
    return text if term.coefficient == 1 else f"{_number(term.coefficient)} * {text}"


def model_to_sbml(cm: CompiledModel, state: SteadyState, km: np.ndarray, vmax: np.ndarray,
                  units: UnitSettings = UnitSettings(), model_id: str = "renaissance_model") -> str:
    """SBML L3V2 text of ``cm`` at ``state`` with one parameter set.

    Parameters
    ----------
    cm : CompiledModel (with the state's Keq, see ``model_for_state``)
    state : SteadyState (concentrations mol/L; fluxes are implied by the rates)
    km : (n_km,) mol/L, in ``cm.km_names`` order
    vmax : (n_rxn,) model units (concentration / h; the rate constant for mass action)
    """
    libsbml = _libsbml()
    model_src = cm.model
    doc = libsbml.SBMLDocument(3, 2)
    model = doc.createModel()
    _check(model.setId(sid(model_id)), "model id")
    model.setName(model_src.name or model_id)
    _units(model, units)
    _add_compartments(model, model_src)
    _add_species(model, cm, state_arrays(cm, state, units).ln_x)
    _add_parameters(model, _parameter_values(cm, km, vmax, units))
    S, reads = _species_stoichiometry(cm), cm.reads
    for k, (reaction, formula) in enumerate(zip(cm.structure.reactions, rate_formulas(cm))):
        _add_reaction(model, cm, S, reads, k, reaction, formula)
    return libsbml.writeSBMLToString(doc)


def _add_compartments(model, model_src) -> None:
    """One constant 3-D compartment per model compartment, size ``volume_<c> / cell_volume_<c>``
    (dimensionless ratio, written in litre as the model's volume unit)."""
    cell = {c: model_src.parameter(f"cell_volume_{c}", 1.0) for c in model_src.compartments}
    for c in model_src.compartments:
        comp = model.createCompartment()
        _check(comp.setId(sid(c)), f"compartment '{c}'")
        comp.setName(c)
        comp.setConstant(True)
        comp.setSpatialDimensions(3)
        comp.setSize(model_src.parameter(f"volume_{c}", 1.0) / cell[c])
        comp.setUnits("litre")


def _add_species(model, cm: CompiledModel, ln_x: np.ndarray) -> None:
    """One species per entry of ``cm.species``; ``ln_x`` (n_species,) is the log concentration
    in model units (1/``concentration_scale`` mol/L), in ``cm.species`` order. Boundary
    species are constant."""
    model_src = cm.model
    boundary = set(cm.structure.boundary)
    for name, value in zip(cm.species, np.exp(ln_x)):
        sp = model.createSpecies()
        _check(sp.setId(sid(name)), f"species '{name}'")
        sp.setName(name)
        sp.setCompartment(sid(model_src.species[name]))
        sp.setInitialConcentration(float(value))
        sp.setHasOnlySubstanceUnits(False)
        sp.setBoundaryCondition(name in boundary)
        sp.setConstant(name in boundary)
        sp.setSubstanceUnits("substance")


def _parameter_values(cm: CompiledModel, km: np.ndarray, vmax: np.ndarray,
                      units: UnitSettings) -> list[tuple[str, float, str]]:
    """``(name, value, unit id)`` of every parameter, in model units: Km (n_km,) mol/L scaled by
    ``concentration_scale``, Vmax (n_rxn,) as given, then Keq of the reversible reactions."""
    scale = units.concentration_scale
    values = [(name, float(k) * scale, "concentration") for name, k in zip(cm.km_names, km)]
    values += [(f"vmax_forward_{r}", float(v), "concentration_per_hour") for r, v in zip(cm.structure.reactions, vmax)]
    values += [(f"k_equilibrium_{r}", math.exp(lk), "dimensionless")
               for r, lk, rev in zip(cm.structure.reactions, cm.ln_keq, cm.reversible) if rev]
    return values


def _add_parameters(model, values: list[tuple[str, float, str]]) -> None:
    """One constant global parameter per ``(name, value, unit id)``."""
    for name, value, unit in values:
        p = model.createParameter()
        _check(p.setId(sid(name)), f"parameter '{name}'")
        p.setName(name)
        p.setValue(value)
        p.setConstant(True)
        p.setUnits(unit)


def _species_stoichiometry(cm: CompiledModel) -> np.ndarray:
    """Stoichiometric matrix (n_species, n_rxn), variable and boundary rows together, rows in
    ``cm.species`` order."""
    S = np.vstack([cm.structure.S, cm.structure.S_boundary])
    order = cm.structure.variables + cm.structure.boundary
    index = {s: i for i, s in enumerate(order)}
    rows = [index[s] for s in cm.species]  # S rows in cm.species order
    return S[rows]


def _add_reaction(model, cm: CompiledModel, S: np.ndarray, reads: np.ndarray, k: int, reaction: str,
                  formula: str) -> None:
    """Reaction ``k``: reactants and products from column ``k`` of ``S`` (n_species, n_rxn),
    modifiers for the other species its rate law uses (``reads``, n_rxn x n_species), and the
    kinetic law ``formula``."""
    libsbml = _libsbml()
    rx = model.createReaction()
    _check(rx.setId(sid(reaction)), f"reaction '{reaction}'")
    rx.setName(reaction)
    rx.setReversible(bool(cm.reversible[k]))
    in_law = reads[k]
    for i, species in enumerate(cm.species):
        coefficient = S[i, k]
        if coefficient != 0:
            ref = rx.createReactant() if coefficient < 0 else rx.createProduct()
            ref.setSpecies(sid(species))
            ref.setStoichiometry(float(abs(coefficient)))
            ref.setConstant(True)
        elif in_law[i]:
            rx.createModifier().setSpecies(sid(species))
    ast = libsbml.parseL3Formula(formula)
    if ast is None:
        raise SBMLError(located(reaction, "rate law", libsbml.getLastParseL3Error()))
    law = rx.createKineticLaw()
    _check(law.setMath(ast), f"kinetic law of '{reaction}'")


def _units(model, units: UnitSettings) -> None:
    """substance = mole / concentration_scale, time = hour, volume = litre, plus parameter units."""
    libsbml = _libsbml()
    exponent = -math.log10(units.concentration_scale)
    scale = round(exponent)
    multiplier = 10 ** (exponent - scale)

    def define(uid, parts):
        ud = model.createUnitDefinition()
        ud.setId(uid)
        for kind, exp, sc, mult in parts:
            u = ud.createUnit()
            u.setKind(kind)
            u.setExponent(exp)
            u.setScale(sc)
            u.setMultiplier(mult)

    define("substance", [(libsbml.UNIT_KIND_MOLE, 1, scale, multiplier)])
    define("hour", [(libsbml.UNIT_KIND_SECOND, 1, 0, 3600.0)])
    define("concentration", [(libsbml.UNIT_KIND_MOLE, 1, scale, multiplier), (libsbml.UNIT_KIND_LITRE, -1, 0, 1.0)])
    define("concentration_per_hour", [(libsbml.UNIT_KIND_MOLE, 1, scale, multiplier), (libsbml.UNIT_KIND_LITRE, -1, 0, 1.0),
                                      (libsbml.UNIT_KIND_SECOND, -1, 0, 3600.0)])
    model.setSubstanceUnits("substance")
    model.setTimeUnits("hour")
    model.setVolumeUnits("litre")
    model.setExtentUnits("substance")


def consistency_errors(text: str) -> list[str]:
    """libSBML's consistency checks of an SBML text: the messages of severity error or fatal."""
    libsbml = _libsbml()
    doc = libsbml.readSBMLFromString(text)
    doc.checkConsistency()
    return [doc.getError(i).getMessage() for i in range(doc.getNumErrors())
            if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR]


def write_sbml(path: str | os.PathLike, text: str) -> None:
    """Write SBML text atomically, refusing a document with consistency errors."""
    errors = consistency_errors(text)
    if errors:
        raise SBMLError(located(str(path), "SBML", f"{len(errors)} consistency errors, first: {errors[0]}"))
    write_text_atomic(path, text)


@dataclass(frozen=True)
class SBMLModel:
    """What :func:`read_sbml` recovers: model-unit values by the model's own names."""

    species: dict[str, float]  # initial concentration, model units
    boundary: tuple[str, ...]
    compartments: dict[str, float]  # size
    parameters: dict[str, float]
    reactions: tuple[str, ...]
    laws: dict[str, str | None] = field(default_factory=dict)  # reaction -> kinetic law (L3 formula; None: none)
    ids: dict[str, str] = field(default_factory=dict)  # name -> SBML id of every species, compartment, parameter


def read_sbml(path: str | os.PathLike) -> SBMLModel:
    """Read an SBML file written by :func:`model_to_sbml` (names are the model's ids)."""
    libsbml = _libsbml()
    doc = libsbml.readSBMLFromFile(str(Path(path)))
    fatal = [doc.getError(i).getMessage() for i in range(doc.getNumErrors())
             if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR]
    if fatal or doc.getModel() is None:
        raise SBMLError(located(str(path), "SBML", fatal[0] if fatal else "no model"))
    model = doc.getModel()

    def name(element):
        return element.getName() or element.getId()

    species = {name(s): s.getInitialConcentration() for s in model.getListOfSpecies()}
    boundary = tuple(name(s) for s in model.getListOfSpecies() if s.getBoundaryCondition())
    compartments = {name(c): c.getSize() for c in model.getListOfCompartments()}
    parameters = {name(p): p.getValue() for p in model.getListOfParameters()}
    reactions = tuple(name(r) for r in model.getListOfReactions())
    laws = {name(r): _law_formula(r) for r in model.getListOfReactions()}
    ids = {name(e): e.getId() for elements in (model.getListOfSpecies(), model.getListOfCompartments(),
                                                model.getListOfParameters()) for e in elements}
    return SBMLModel(species, boundary, compartments, parameters, reactions, laws, ids)


def _law_formula(reaction) -> str | None:
    """The L3 infix formula of a reaction's kinetic law (None: the reaction has none)."""
    law = reaction.getKineticLaw()
    if law is None or not law.isSetMath():
        return None
    return _libsbml().formulaToL3String(law.getMath())


#: perturbed points (concentrations, Km and Vmax each x exp(U(-1, 1))) at which every kinetic
#: law of an imported file is compared with the model's, besides the file's own values
LAW_POINTS = 3
#: largest relative difference between a file's kinetic law and the model's rate law
LAW_RTOL = 1e-6


def evaluate_formula(formula: str, values: dict, where: str = "kinetic law"):
    """The value of an SBML L3 infix ``formula`` (numbers, symbols of ``values``, +, -, *, /, ^),
    elementwise over the arrays of ``values``; anything else is an :class:`SBMLError` at ``where``."""
    libsbml = _libsbml()
    ast = libsbml.parseL3Formula(formula)
    if ast is None:
        raise SBMLError(f"{where}: unreadable ({libsbml.getLastParseL3Error()})")
    with np.errstate(all="ignore"):
        return _evaluate(ast, values, where)


def _evaluate(node, values: dict, where: str):
    """:func:`evaluate_formula` of one AST node."""
    libsbml = _libsbml()
    if node.isNumber():
        return node.getValue()
    if node.getType() == libsbml.AST_NAME:
        if node.getName() not in values:
            raise SBMLError(f"{where}: '{node.getName()}' is not a species, compartment or parameter of the file")
        return values[node.getName()]
    args = [_evaluate(node.getChild(i), values, where) for i in range(node.getNumChildren())]
    kind = node.getType()
    if kind == libsbml.AST_PLUS:
        return reduce(lambda a, b: a + b, args, 0.0)
    if kind == libsbml.AST_TIMES:
        return reduce(lambda a, b: a * b, args, 1.0)
    if kind == libsbml.AST_MINUS and len(args) in (1, 2):
        return -args[0] if len(args) == 1 else args[0] - args[1]
    if kind == libsbml.AST_DIVIDE and len(args) == 2:
        return args[0] / args[1]
    if kind in (libsbml.AST_POWER, libsbml.AST_FUNCTION_POWER) and len(args) == 2:
        return args[0] ** args[1]
    raise SBMLError(f"{where}: '{libsbml.formulaToL3String(node)}' is not a rate law renaissance writes "
                    "(only numbers, species, parameters, +, -, *, /, ^)")


@dataclass(frozen=True)
class ImportedSet:
    """One parameter set read back: the state (mol/L; fluxes: the rates of the file's kinetic
    laws, mmol/gDW/h), Km (mol/L), Vmax (model units); ``law_error``: the largest relative
    difference between the file's kinetic laws and the model's rate laws; ``imbalance``: the
    largest |N.v| of a balanced species relative to its turnover at the file's concentrations."""

    state: SteadyState
    km: np.ndarray
    vmax: np.ndarray
    law_error: float
    imbalance: float


def import_parameter_set(path: str | os.PathLike, cm: CompiledModel, units: UnitSettings = UnitSettings()) -> ImportedSet:
    """Read an exported SBML model against ``cm``: every species, reaction and parameter must be
    present, every reaction's kinetic law must be the model's rate law (:func:`law_errors`), and
    the file's concentrations a steady state of those laws (|N.v| of every balanced species within
    ``1e-6`` of its turnover, :func:`validate_steady_state`); else one :class:`SBMLError` naming
    the file and the reaction or species. The fluxes are the rates of the file's laws."""
    sb = read_sbml(path)
    source = str(path)
    _refuse_missing(sb, cm, source)
    km = np.array([sb.parameters[n] for n in cm.km_names]) / units.concentration_scale
    vmax = np.array([sb.parameters[f"vmax_forward_{r}"] for r in cm.structure.reactions])
    keq = {r: sb.parameters[f"k_equilibrium_{r}"] for r, rev in zip(cm.structure.reactions, cm.reversible)
           if rev and f"k_equilibrium_{r}" in sb.parameters}
    changed = {r: k for r, k in keq.items() if not math.isclose(math.log(k), cm.ln_keq[cm.structure.reactions.index(r)],
                                                                 rel_tol=1e-12, abs_tol=1e-12)}
    cm_state = model_for_state(cm, SteadyState({}, {}, source, changed)) if changed else cm
    v, law_error = law_errors(sb, cm_state, source)
    concentrations = {s: sb.species[s] / units.concentration_scale for s in cm.species}
    state = SteadyState(concentrations, dict(zip(cm.structure.reactions, (v / units.flux_factor).tolist())), source,
                        changed)
    try:
        report = validate_steady_state(cm, state, units)
    except RenaissanceError as exc:
        raise SBMLError(f"{exc}; not a steady state of the file's own kinetic laws at its initial concentrations") \
            from None
    return ImportedSet(state, km, vmax, law_error, report.worst_imbalance_relative)


def _refuse_missing(sb: SBMLModel, cm: CompiledModel, source: str) -> None:
    """Every species, reaction, Km and Vmax of ``cm`` must be in the file, every reaction with a kinetic law."""
    missing = [s for s in cm.species if s not in sb.species]
    missing += [r for r in cm.structure.reactions if r not in sb.reactions]
    names = [*cm.km_names, *(f"vmax_forward_{r}" for r in cm.structure.reactions)]
    missing += [n for n in names if n not in sb.parameters]
    if missing:
        raise SBMLError(located(source, f"{missing[:5]}", f"not in the file ({len(missing)} in all); not this model's export"))
    lawless = [r for r in cm.structure.reactions if sb.laws.get(r) is None]
    if lawless:
        raise SBMLError(located(source, f"reaction '{lawless[0]}'", f"no kinetic law ({len(lawless)} reactions without "
                                                                     "one); not this model's export"))


def law_errors(sb: SBMLModel, cm: CompiledModel, source: str, seed: int = 0) -> tuple[np.ndarray, float]:
    """The file's rates (n_rxn,) at its own values, model units, and the largest relative
    difference between its kinetic laws and ``cm``'s rate laws (``cm`` with the file's Keq) at
    those values and :data:`LAW_POINTS` perturbed ones; a difference over :data:`LAW_RTOL` is an
    :class:`SBMLError` naming the reaction."""
    points = _law_points(sb, cm, np.random.default_rng(seed))
    values = {sb.ids.get(n, n): v for table in (sb.parameters, sb.compartments) for n, v in table.items()}
    values.update({sb.ids[name]: column for name, column in zip(points.names, points.values.T)})
    theirs = np.array([evaluate_formula(sb.laws[r], values, located(source, f"reaction '{r}'", "kinetic law"))
                       * np.ones(len(points.values)) for r in cm.structure.reactions]).T
    ours = np.array([rate_laws(cm, np.log(row[points.km]), row[points.vmax]).rates(np.log(row[points.x]))
                     for row in points.values])
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.maximum(np.abs(ours), 1e-12 * np.abs(ours).max(axis=1, keepdims=True))
        error = np.where(theirs == ours, 0.0, np.abs(theirs - ours) / scale)
    worst = np.unravel_index(np.argmax(np.nan_to_num(error, nan=np.inf)), error.shape)
    if not error[worst] <= LAW_RTOL:
        point = "the file's values" if worst[0] == 0 else f"perturbed point {worst[0]}"
        raise SBMLError(located(source, f"reaction '{cm.structure.reactions[worst[1]]}'",
                                f"kinetic law differs from the model's rate law (rate {theirs[worst]:.6g} vs "
                                f"{ours[worst]:.6g} at {point}); not this model's export"))
    return theirs[0], float(error.max(initial=0.0))


@dataclass(frozen=True)
class _Points:
    """Rows of ``values`` (n_points, n_sp + n_km + n_rxn): concentrations, Km and Vmax (model
    units) under the file's ``names``; ``x``, ``km``, ``vmax``: their columns."""

    names: list[str]
    values: np.ndarray
    x: slice
    km: slice
    vmax: slice


def _law_points(sb: SBMLModel, cm: CompiledModel, rng: np.random.Generator) -> _Points:
    """The file's own values and :data:`LAW_POINTS` perturbations of them (each x exp(U(-1, 1)))."""
    names = [*cm.species, *cm.km_names, *(f"vmax_forward_{r}" for r in cm.structure.reactions)]
    own = np.array([sb.species[n] for n in cm.species] + [sb.parameters[n] for n in names[len(cm.species):]])
    values = own * np.exp(np.vstack([np.zeros(len(own)), rng.uniform(-1, 1, (LAW_POINTS, len(own)))]))
    n_sp, n_km = len(cm.species), len(cm.km_names)
    return _Points(names, values, slice(0, n_sp), slice(n_sp, n_sp + n_km), slice(n_sp + n_km, len(names)))
