"""Batch bioreactor: a population of identical cells whose metabolism is the kinetic model.

State (log coordinates): the cell's balanced species y = ln x (model units, per cell volume),
the reactor's dynamic extracellular species e = ln x_e (the model's boundary species of the
extracellular compartment that are not held constant; model units) and ln N (cells). With v(x, x_e) the cell's rates
(model concentration per hour, per cell volume V_cell):

    dx/dt   = w * (S v)                                                   (cell)
    dx_e/dt = (S_b v) * N V_cell / V_reactor + k_La (x_e* - x_e)          (reactor; S_b: boundary rows)
    d lnN/dt = mu = growth_scaling * v_growth / flux_factor               (1/h; flux_factor: mmol/gDW/h -> model)

The transfer term k_La (x_e* - x_e) exists only for the species of the medium file's
``gas_transfer`` (an aerated culture's oxygen: k_La in 1/h, saturation x_e* in mol/L); a species
held constant (``boundary_conditions``) is the limit k_La -> inf.

Initial conditions: the cell at its steady state and, by default, every extracellular species at
the steady state's own concentration (``initial_conditions: steady_state``, the reference
script's behaviour), so that at t = 0 every intracellular derivative is zero and mu(0) is the
state's growth (0.295 1/h at the shipped E. coli culture state). ``initial_conditions: initial_medium``
starts the species of ``initial_medium`` at the file's concentrations instead (the cells are then
off their steady state at t = 0). Intracellular dilution by growth is not modelled (the kinetic
model's steady state has none; the reference compiles its reactor without it). Units inside the
cell are the population's (those its Vmax were back-calculated with), so the cell reproduces its
fluxes exactly; the biomass in g/L is N x ``cell_dry_mass_g`` / V_reactor.

Medium file (YAML, the reference layout): ``initial_medium`` (species: mol/L), ``reactor_volume``
(in cell volumes; 5e13 x 1 um^3 = 50 mL), ``biomass`` / ``biomass_scaling`` (``strain_1``: growth
reaction and scaling; without ``biomass`` the growth reaction the caller passes, else the
model's only reaction whose id contains 'biomass' or 'growth'), ``extracellular_compartment``
(default ``e``), ``boundary_conditions`` (species held constant), ``gas_transfer`` (species:
{kla: 1/h, saturation: mol/L}), ``initial_conditions`` (``steady_state`` or ``initial_medium``)
and ``report`` (species: label), the species plotted and summarised beside biomass (default: the
dynamic species of ``initial_medium``, labelled by id). Species of the medium the model does not
contain, like any other problem of the file, are one :class:`~renaissance.errors.MediumError`
naming the file and them; ``renaissance init`` writes a starter medium for any model.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from .._declare import NON_NEGATIVE, POSITIVE, Choice, Declared, Pair, Table, setting
from .._plotting import pyplot, save_figure, wrapped_title
from ..config import build, read_config
from ..errors import MediumError, RenaissanceError, located
from ..growth import guess_growth_reaction
from ..model.compiled import CompiledModel
from ..plumbing.resumable import ResultTable, array_digest, in_pool, population_inputs
from ..settings import UnitSettings
from .integrate import IntegrationSettings, integrate
from .system import rate_laws

CELL_VOLUME_L = 1e-15  # 1 um^3, the reference cell (0.9 cytosol, 0.1 periplasm)
#: where the extracellular species start: the steady state's own values, or the medium file's
INITIAL_CONDITIONS = ("steady_state", "initial_medium")


@dataclass(frozen=True, kw_only=True)
class ReactorSettings(Declared, table="reactor"):
    """A batch reactor (defaults: the reference set-up's reactor and inoculum; growth scaling 1)."""

    medium: dict[str, float]  # mol/L, the file's initial medium (used with initial_conditions="initial_medium")
    growth_reaction: str  # the lumped growth reaction; growth (1/h) = growth_scaling x its flux (mmol/gDW/h)
    constant: tuple[str, ...] = ()  # extracellular species held constant
    # species: (k_La 1/h, saturation mol/L)
    gas_transfer: dict[str, tuple[float, float]] = setting(rule=Table(Pair(("kla", "saturation"), POSITIVE)),
                                                           factory=dict)
    initial_conditions: str = setting("steady_state", Choice(INITIAL_CONDITIONS))  # or "initial_medium"
    extracellular: str = "e"  # compartment of the reactor's species
    volume_l: float = setting(0.05, POSITIVE)
    biomass_g_per_l: float = setting(0.037, POSITIVE)
    cell_dry_mass_g: float = setting(0.28e-12, POSITIVE)
    cell_volume_l: float = setting(CELL_VOLUME_L, POSITIVE)
    # the shipped E. coli set-up: 5e5 (its medium file's biomass_scaling)
    growth_scaling: float = setting(1.0, NON_NEGATIVE)
    hours: float = setting(60.0, POSITIVE)
    integration: IntegrationSettings = field(default_factory=lambda: IntegrationSettings(method="BDF", escape_fold=0.0))

    @property
    def initial_medium(self) -> dict[str, float]:
        """{species: mol/L} that replace the steady state's extracellular values at t = 0 (none
        with ``initial_conditions == "steady_state"``)."""
        return self.medium if self.initial_conditions == "initial_medium" else {}

    def describe_start(self, source: str) -> str:
        """One line saying where the extracellular species start (``source``: the medium file)."""
        if self.initial_conditions == "steady_state":
            return "medium at t = 0: the steady state's own extracellular concentrations (cells at their steady state)"
        return (f"medium at t = 0: initial_medium of {source} ({len(self.medium)} species; the rest at the steady "
                "state's values)")

    @property
    def n_cells(self) -> float:
        return self.biomass_g_per_l * self.volume_l / self.cell_dry_mass_g


def read_medium(path: str | os.PathLike, cm: CompiledModel, growth_reaction: str | None = None,
                initial_conditions: str | None = None) -> ReactorSettings:
    """Reactor settings from a medium file (see module docstring), checked against ``cm``.

    The growth reaction is the file's ``biomass`` entry, else ``growth_reaction``, else the
    model's only reaction whose id contains 'biomass' or 'growth'; none is an error naming the
    file. ``initial_conditions`` (one of :data:`INITIAL_CONDITIONS`) overrides the file's."""
    source = str(path)
    data = read_config(path, MediumError, default="yaml")
    start = initial_conditions or str(data.get("initial_conditions", "steady_state"))
    if start not in INITIAL_CONDITIONS:
        raise MediumError(located(source, f"initial_conditions '{start}'", f"must be one of {INITIAL_CONDITIONS}"))
    if start == "initial_medium" and not isinstance(data.get("initial_medium"), dict):
        raise MediumError(located(source, "initial_medium", "missing (species: mol/L)"))
    medium = _concentrations(data.get("initial_medium") or {}, source, "initial_medium")
    species = set(cm.species)
    unknown = sorted(set(medium) - species)
    if unknown:
        raise MediumError(located(source, f"initial_medium species {unknown}", "not in the model"))
    not_boundary = sorted(set(medium) - set(cm.structure.boundary))
    if not_boundary:
        raise MediumError(located(source, f"initial_medium species {not_boundary}",
                                       "are balanced species of the model, not extracellular boundary species"))
    constant = tuple(bc["reactant"] for bc in (data.get("boundary_conditions") or {}).values())
    unknown = sorted(set(constant) - species)
    if unknown:
        raise MediumError(located(source, f"boundary_conditions species {unknown}", "not in the model"))
    options = {"extracellular": str(data.get("extracellular_compartment", "e"))}
    options["gas_transfer"] = _gas_transfer(data.get("gas_transfer") or {}, source, cm, options["extracellular"],
                                            constant)
    if "reactor_volume" in data:
        options["volume_l"] = _number(data["reactor_volume"], source, "reactor_volume", "cell volumes") * CELL_VOLUME_L
    if _strain_value(data, "biomass_scaling") is not None:
        options["growth_scaling"] = _strain_value(data, "biomass_scaling")
    growth = _strain_value(data, "biomass") or growth_reaction or guess_growth_reaction(cm.structure.reactions)
    if growth is None:
        raise MediumError(located(source, "biomass", "missing: name the growth reaction (biomass: {strain_1: "
                                       "REACTION}); no reaction id of the model contains 'biomass' or 'growth'"))
    if growth not in cm.structure.reactions:
        raise MediumError(located(source, f"biomass reaction '{growth}'", "not in the model"))
    return build(ReactorSettings, dict(medium=medium, growth_reaction=growth, constant=constant,
                                       initial_conditions=start, **options), "reactor", source, MediumError)


def _gas_transfer(table, source: str, cm: CompiledModel, compartment: str,
                  constant: tuple[str, ...]) -> dict[str, tuple[float, float]]:
    """{species: (k_La 1/h, saturation mol/L)} of ``gas_transfer``; each species must be a dynamic
    extracellular species (boundary, in ``compartment``, not held constant) and both values > 0."""
    if not isinstance(table, dict):
        raise MediumError(located(source, "gas_transfer",
                                       "must be a mapping species: {kla: 1/h, saturation: mol/L}"))
    out = {}
    for species, entry in table.items():
        where = f"gas_transfer species '{species}'"
        if species not in cm.structure.boundary or cm.model.species.get(species) != compartment or species in constant:
            raise MediumError(located(source, where, f"must be an extracellular boundary species (compartment "
                                           f"'{compartment}') that boundary_conditions do not hold constant"))
        if not isinstance(entry, dict) or set(entry) != {"kla", "saturation"}:
            raise MediumError(located(source, where, "needs exactly kla (1/h) and saturation (mol/L)"))
        values = _concentrations(entry, source, where, "kla (1/h) and saturation (mol/L) must be finite and > 0")
        out[str(species)] = (values["kla"], values["saturation"])
    return out


def _number(value, source: str, key: str, unit: str) -> float:
    """``value`` of the medium file's ``key`` as a float (its range is the settings' to check)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise MediumError(located(source, key, f"must be a number ({unit}), got {value!r}")) from None


def _strain_value(data: dict, key: str):
    """The value of the first strain of a ``{strain_1: value}`` table of a medium file (None: absent)."""
    value = data.get(key)
    return next(iter(value.values())) if isinstance(value, dict) and value else None


def medium_growth(path: str | os.PathLike) -> str | None:
    """The growth reaction a medium file names (``biomass``), None when it names none."""
    return _strain_value(read_config(path, MediumError, default="yaml"), "biomass")


def _concentrations(table: dict, source: str, where: str,
                    what: str = "concentrations must be finite and > 0 (mol/L)") -> dict[str, float]:
    """{name: value} of a table of positive numbers (``where``: its place in the file, for errors);
    an entry that is not a finite number > 0 is an error."""
    medium, bad = {}, []
    for species, value in table.items():
        try:
            number = float("nan") if isinstance(value, bool) else float(value)
        except (TypeError, ValueError):  # null (not filled in) or text; YAML 1.1 reads 1e-3 as text
            number = float("nan")
        medium[str(species)] = number
        if not (np.isfinite(number) and number > 0):
            bad.append(f"{species}: {value!r}")
    if bad:
        raise MediumError(located(source, f"{where} {bad}", f"{what}; fill them in"))
    return medium


def dynamic_species(cm: CompiledModel, settings: ReactorSettings) -> list[int]:
    """Indices (into the boundary species) of the reactor's dynamic species: the boundary species of
    the extracellular compartment that the medium does not hold constant."""
    constant = set(settings.constant)
    return [i for i, s in enumerate(cm.structure.boundary)
            if cm.model.species.get(s) == settings.extracellular and s not in constant]


def read_report(path: str | os.PathLike, cm: CompiledModel, settings: ReactorSettings) -> dict[str, str]:
    """{species: label} of the medium file's ``report`` table (default: the dynamic species of
    ``initial_medium``, labelled by id); each must be a dynamic species of the reactor."""
    source = str(path)
    data = read_config(path, MediumError, default="yaml")
    dynamic = [cm.structure.boundary[i] for i in dynamic_species(cm, settings)]
    table = data.get("report")
    if table is None:
        return {s: s for s in settings.medium if s in dynamic}
    if not isinstance(table, dict):
        raise MediumError(located(source, "report", "must be a mapping species: label"))
    unknown = sorted(str(s) for s in set(table) - set(dynamic))
    if unknown:
        raise MediumError(located(source, f"report species {unknown}", "not dynamic species of the reactor "
                                       f"(extracellular boundary species not held constant: {dynamic[:8]})"))
    return {str(s): str(label) for s, label in table.items()}


@dataclass(frozen=True)
class ReactorODE:
    """The batch-reactor ODE of one parameter set (see module docstring); z = [y, ln x_e, ln N]."""

    laws: object
    cell_stoichiometry: np.ndarray  # (n_var, n_rxn) w * S
    exchange: np.ndarray  # (n_dyn, n_rxn) S_b rows of the dynamic extracellular species
    dynamic: np.ndarray  # (n_dyn,) indices into the boundary species
    ln_boundary: np.ndarray  # (n_bnd,) initial / constant boundary values
    volume_ratio: float  # V_cell / V_reactor
    growth: int
    growth_factor: float  # growth_scaling / flux_factor
    kla: np.ndarray  # (n_dyn,) gas transfer coefficient (1/h; 0: none)
    saturation: np.ndarray  # (n_dyn,) gas saturation concentration (model units)

    @property
    def n_var(self) -> int:
        return self.cell_stoichiometry.shape[0]

    def species_state(self, z: np.ndarray) -> np.ndarray:
        ln_b = self.ln_boundary.copy()
        ln_b[self.dynamic] = z[self.n_var:-1]
        return np.concatenate([z[: self.n_var], ln_b])

    def rhs(self, t: float, z: np.ndarray) -> np.ndarray:
        u = self.species_state(z)
        v = self.laws.rates(u)
        cells = np.exp(z[-1]) * self.volume_ratio
        inv_e = np.exp(-z[self.n_var:-1])
        return np.concatenate([
            (self.cell_stoichiometry @ v) * np.exp(-z[: self.n_var]),
            (self.exchange @ v) * cells * inv_e + self.kla * (self.saturation * inv_e - 1.0),
            [self.growth_factor * v[self.growth]],
        ])

    def jac(self, t: float, z: np.ndarray) -> np.ndarray:
        n, m = self.n_var, len(self.dynamic)
        u = self.species_state(z)
        v, dv = self.laws.rates_and_elasticities(u)
        columns = np.concatenate([np.arange(n), n + self.dynamic])  # species of u that are states
        dv = dv[:, columns]
        cells = np.exp(z[-1]) * self.volume_ratio
        J = np.zeros((n + m + 1, n + m + 1))
        inv_x = np.exp(-z[:n])
        J[:n, : n + m] = (self.cell_stoichiometry @ dv) * inv_x[:, None]
        J[np.arange(n), np.arange(n)] -= (self.cell_stoichiometry @ v) * inv_x
        inv_e = np.exp(-z[n:-1])
        flow = (self.exchange @ v) * cells * inv_e
        J[n:-1, : n + m] = (self.exchange @ dv) * (cells * inv_e)[:, None]
        J[np.arange(n, n + m), np.arange(n, n + m)] -= flow + self.kla * self.saturation * inv_e
        J[n:-1, -1] = flow
        J[-1, : n + m] = self.growth_factor * dv[self.growth]
        return J


def reactor_ode(cm: CompiledModel, ln_x: np.ndarray, ln_k: np.ndarray, vmax: np.ndarray, settings: ReactorSettings,
                units: UnitSettings) -> tuple[ReactorODE, np.ndarray]:
    """The reactor ODE and its initial state z0 (cell at ``ln_x``; the extracellular species at the
    state's values or, with ``initial_conditions == "initial_medium"``, the medium file's)."""
    st = cm.structure
    n_var = len(st.variables)
    ln_boundary = np.array(ln_x[n_var:], dtype=float)
    index = {s: i for i, s in enumerate(st.boundary)}
    for species, value in settings.initial_medium.items():
        ln_boundary[index[species]] = np.log(value) + units.log_concentration_scale
    dynamic = np.array(dynamic_species(cm, settings), dtype=np.int64)
    kla, saturation = np.zeros(len(dynamic)), np.ones(len(dynamic))
    for species, (k, x_sat) in settings.gas_transfer.items():
        row = int(np.flatnonzero(dynamic == index[species])[0])
        kla[row], saturation[row] = k, x_sat * units.concentration_scale
    ode = ReactorODE(
        laws=rate_laws(cm, ln_k, vmax), cell_stoichiometry=st.weights[:, None] * st.S, exchange=st.S_boundary[dynamic],
        dynamic=dynamic, ln_boundary=ln_boundary, volume_ratio=settings.cell_volume_l / settings.volume_l,
        growth=st.reactions.index(settings.growth_reaction), growth_factor=settings.growth_scaling / units.flux_factor,
        kla=kla, saturation=saturation)
    z0 = np.concatenate([ln_x[:n_var], ln_boundary[dynamic], [np.log(settings.n_cells)]])
    return ode, z0


@dataclass(frozen=True)
class ReactorRun:
    """Time courses of one model: ``t`` (h), ``biomass`` (g/L), ``medium`` {species: (n_t,) mol/L}."""

    model: int
    t: np.ndarray
    biomass: np.ndarray
    medium: dict[str, np.ndarray]
    status: str
    message: str


def simulate_reactor(cm: CompiledModel, ln_x: np.ndarray, km: np.ndarray, vmax: np.ndarray, settings: ReactorSettings,
                     units: UnitSettings, times: np.ndarray, model: int = 0) -> ReactorRun:
    """Simulate one model (Km in mol/L) and report the reactor at ``times`` (h)."""
    if settings.growth_reaction not in cm.structure.reactions:
        raise RenaissanceError(f"growth reaction '{settings.growth_reaction}': not a reaction of the model")
    ode, z0 = reactor_ode(cm, ln_x, np.log(km) + units.log_concentration_scale, vmax, settings, units)
    traj = integrate(ode, z0, times, settings.integration)
    n = ode.n_var
    medium = {cm.structure.boundary[j]: np.exp(traj.y[:, n + i] - units.log_concentration_scale)
              for i, j in enumerate(ode.dynamic)}
    biomass = np.exp(traj.y[:, -1]) * settings.cell_dry_mass_g / settings.volume_l
    return ReactorRun(model, np.asarray(times), biomass, medium, traj.status, traj.message)


# --- a study over a population: process pool, streamed rows, resume, fit -------------------

TIMECOURSES = "timecourses.csv"


@dataclass(frozen=True)
class ReactorContext:
    cm: CompiledModel
    ln_x: np.ndarray
    settings: ReactorSettings
    units: UnitSettings
    times: np.ndarray


def _reactor_task(context: ReactorContext, model: int, km: np.ndarray, vmax: np.ndarray) -> ReactorRun:
    return simulate_reactor(context.cm, context.ln_x, km, vmax, context.settings, context.units, context.times, model)


def _species(context: ReactorContext) -> list[str]:
    return [context.cm.structure.boundary[i] for i in dynamic_species(context.cm, context.settings)]


def bioreactor_study(context: ReactorContext, km: np.ndarray, vmax: np.ndarray, out_dir: str | os.PathLike, *,
                     models=None, resume: bool = False, n_workers: int | None = None, on_model=None,
                     files: Mapping[str, str] | None = None) -> list[ReactorRun]:
    """Simulate every model (rows of ``km`` (N, n_km) mol/L and ``vmax`` (N, n_rxn)) in a process pool.

    Rows ``model,time_h,status,biomass,<species>`` stream to ``out_dir/timecourses.csv`` as each
    model finishes, one per time of ``context.times``: the population index, the time (h), the
    run's status, the biomass (g/L) and each dynamic medium species (mol/L). The settings (reactor,
    units, times) go to ``out_dir/timecourses.settings.json`` (:mod:`renaissance.plumbing.resumable`). ``resume`` keeps
    the finished models; other settings than the saved ones, another model or other Km/Vmax for a
    model index of both runs are a :class:`.resumable.ResumeError`. ``files``: SHA-256 digests of the
    files the models come from (``ParameterisedModel.files.digests()``), compared on resume as well.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    models = np.arange(len(km)) if models is None else np.asarray(list(models))
    species = _species(context)
    settings = {**asdict(context.settings), "units": asdict(context.units), "times_h": context.times,
                "steady_state": array_digest(context.ln_x)}
    table = ResultTable(out / TIMECOURSES, ["model", "time_h", "status", "biomass", *species],
                        partial(_run_rows, species), partial(_run_from_rows, species), key=lambda run: run.model,
                        rows_per_item=len(context.times), settings=settings,
                        inputs=population_inputs(context.cm, files))
    done = table.run([(int(m), km[i], vmax[i]) for i, m in enumerate(models)],
                     in_pool(_reactor_task, context, n_workers), resume=resume, on_item=on_model).results
    return [done[int(m)] for m in models]


def _run_rows(species: list[str], run: ReactorRun) -> list[list]:
    return [[run.model, repr(float(t)), run.status, repr(float(b)), *(repr(float(run.medium[s][i])) for s in species)]
            for i, (t, b) in enumerate(zip(run.t, run.biomass))]


def _run_from_rows(species: list[str], model: int, rows: list[list[str]]) -> ReactorRun:
    values = np.array([[float(v) for v in r[3:]] for r in rows])
    return ReactorRun(model, np.array([float(r[1]) for r in rows]), values[:, 0], dict(zip(species, values[:, 1:].T)),
                      rows[0][2], "resumed")


def culture_summary(runs: list[ReactorRun], report: dict[str, str], medium: dict[str, float], hours: float) -> str:
    """One line on the runs that ended ``ok``: biomass growth (median, range) and, for each reported
    species of the initial medium, the share used (median); '' without such runs."""
    final = [r for r in runs if r.status == "ok"]
    if not final:
        return ""
    grown = np.array([r.biomass[-1] / r.biomass[0] for r in final])
    text = f"after {hours:g} h: biomass x{np.median(grown):.3g} (median; range {grown.min():.3g}-{grown.max():.3g})"
    for species, label in report.items():
        if species in medium:
            used = np.array([1 - r.medium[species][-1] / r.medium[species][0] for r in final])
            text += f", {label} used {100 * np.median(used):.1f}% (median)"
    return text


def plot_reactor(runs: list[ReactorRun], out_dir: str | os.PathLike, highlight=(),
                 report: dict[str, str] | None = None, title: str | None = None,
                 highlight_label: str = "matching the measured fermentation") -> list[Path]:
    """The biomass and each ``report`` species (species: label) over time for every model, one
    colour per model (tab10 up to ten models, else viridis by order), up to four panels a row,
    the legend right of the panels. Models of ``highlight`` (e.g. those matching a measured
    fermentation, :mod:`.measured`) are drawn thick and named with ``highlight_label``.
    ``title``: the title's first line (e.g. the population and its state; default: the count)."""
    plt = pyplot()

    panels = (("biomass", "biomass (g/L)"), *((s, f"{label} (mol/L)") for s, label in (report or {}).items()))
    columns = min(len(panels), 4)
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(13 / 3 * columns + 2.4, 3.6 * rows + 0.5), squeeze=False,
                             layout="constrained")
    axes = axes.ravel()
    for ax in axes[len(panels):]:
        ax.set_axis_off()
    colors = reactor_colors(len(runs))
    for run, color in zip(runs, colors):
        best = run.model in highlight
        label = f"model {run.model}" + (f", {highlight_label}" if best else "")
        for ax, (name, _) in zip(axes, panels):
            series = run.biomass if name == "biomass" else run.medium.get(name)
            if series is not None:
                ax.plot(run.t, series, color=color, alpha=1.0 if best else 0.75, linewidth=2.4 if best else 1.0,
                        zorder=3 if best else 2, label=label)
    for ax, (_, label) in zip(axes, panels):
        ax.set_xlabel("time (h)")
        ax.set_ylabel(label)
    _reactor_legend(fig, axes[0], highlight_label)
    fig.suptitle(reactor_title(runs, highlight, title, highlight_label), fontsize=9)
    return save_figure(fig, Path(out_dir) / "bioreactor")


def reactor_colors(n: int) -> list:
    """``n`` distinct colours: the tab10 cycle up to ten, else evenly spaced along viridis."""
    from matplotlib import colormaps

    if n <= 10:
        return [colormaps["tab10"](i) for i in range(n)]
    return [colormaps["viridis"](x) for x in np.linspace(0.0, 0.95, n)]


def _reactor_legend(fig, ax, highlight_label: str, max_entries: int = 15) -> None:
    """A legend right of the panels: every model up to ``max_entries`` lines, else the highlighted
    ones and one entry for the others (coloured by order)."""
    from matplotlib.lines import Line2D

    lines = ax.get_lines()
    if len(lines) > max_entries:
        shown = [line for line in lines if highlight_label in line.get_label()][:max_entries - 1]
        lines = [*shown, Line2D([], [], color="0.5", linewidth=1.0, label=f"{len(lines) - len(shown)} other models "
                                                                         "(colour: order, viridis)")]
    if lines:
        fig.legend(handles=lines, loc="outside right upper", fontsize=7)


def reactor_title(runs: list[ReactorRun], highlight, title: str | None = None,
                  highlight_label: str = "matching the measured fermentation") -> str:
    """``title`` (default: "batch bioreactor"), then the number of models, the time span and the
    highlighted count."""
    hours = max((float(run.t[-1]) for run in runs if len(run.t)), default=0.0)
    marked = sum(run.model in highlight for run in runs)
    what = f"{len(runs)} models over {hours:g} h" + (f"; thick lines: {marked} models {highlight_label}"
                                                    if marked else "")
    return wrapped_title(title or "batch bioreactor", what, width=120)
