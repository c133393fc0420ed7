"""The ``renaissance`` command line: thin wrappers over the library, errors as one red line."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import os
import time
from collections import Counter
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from . import __version__
from .errors import RenaissanceError, os_error_message
from .settings import VALID_LAMBDA_MAX
from .shipped import ECOLI_MODEL as ECOLI

# help texts are plain text: Rich markup would eat bracketed words such as "[generator]"
app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  context_settings={"max_content_width": 100})
console = Console()
err_console = Console(stderr=True)


ModelOption = Annotated[Path, typer.Option("--model", "-m", help="SKiMpy YAML model (default: shipped E. coli).")]
ConstraintsOption = Annotated[Optional[Path], typer.Option(
    "--constraints", "-c", help=(
        "Constraints YAML (default: the shipped E. coli constraints for the shipped E. coli model; for any other "
        "model model-neutral defaults: no growth bound, |v| <= 100 mmol/gDW/h, concentrations in [1e-7, 2e-2] "
        "mol/L; renaissance init writes a starter file)."))]
ThresholdOption = Annotated[float, typer.Option(help="Valid when lambda_max <= threshold (1/h).")]


class Backend(str, Enum):
    numpy = "numpy"
    torch = "torch"


class DType(str, Enum):
    float32 = "float32"
    bfloat16 = "bfloat16"


BackendOption = Annotated[Backend, typer.Option(help="Array backend (float64 either way).")]
PopulationArgument = Annotated[Path, typer.Argument(help="Population file (renaissance generate).")]
ForceOption = Annotated[bool, typer.Option(help="Replace --out if it exists.")]
FolderForceOption = Annotated[bool, typer.Option(
    help="Start afresh: first remove an earlier run's outputs from --out (other files there stay).")]
ThreadsOption = Annotated[Optional[int], typer.Option(help="Worker threads (default: all cores).")]


def _progress() -> Progress:
    """A transient progress display on stderr; off when stderr is not a terminal (a log or a pipe
    would get only its blank line)."""
    return Progress(console=err_console, transient=True, disable=not err_console.is_terminal)


def _version(value: bool) -> None:
    if value:
        console.print(f"renaissance-kinetics {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")] = False,
) -> None:
    """Kinetic models of metabolism with fast, stable dynamics (RENAISSANCE).

    The main job, `make demo`, trains the generator on the shipped E. coli model (train),
    emits a population (generate), tests its robustness (robustness) and grows models in the
    bioreactor (bioreactor). Every command prints one line naming the file and the problem on
    bad input, exit code 1."""


def command(name: str | None = None):
    """Register a command; an error of the input (:class:`RenaissanceError`: a bad file, setting
    or argument) or of the file system (OSError: the file and its problem) becomes one red line
    and exit code 1. Any other exception is a bug and keeps its traceback.
    RENAISSANCE_TRACEBACK=1 shows the traceback of input errors too."""

    def register(function):
        @functools.wraps(function)
        def guarded(*args, **kwargs):
            try:
                with contextlib.ExitStack() as held:  # the outputs the command claims (_claim), released at its end
                    token = _CLAIMS.set(held)
                    try:
                        return function(*args, **kwargs)
                    finally:
                        _CLAIMS.reset(token)
            except (RenaissanceError, OSError) as exc:
                if os.environ.get("RENAISSANCE_TRACEBACK"):
                    raise
                message = os_error_message(exc) if isinstance(exc, OSError) else str(exc)
                err_console.print(Text.assemble(("error: ", "red"), message), highlight=False, soft_wrap=True)
                raise typer.Exit(code=1) from None

        summary = " ".join(inspect.cleandoc(function.__doc__ or "").split("\n\n")[0].split())
        return app.command(name, short_help=summary)(guarded)

    return register


@command("check-model")
def check_model(
    model: Annotated[Path, typer.Argument(help="SKiMpy YAML model.")],
    steady_state: Annotated[Optional[Path], typer.Option(help="Also validate this id,kind,value CSV.")] = None,
) -> None:
    """Load a model, print its structure (and validate a steady state against it, naming any
    mode that no parameter set can move there)."""
    from .model import compile_model, load_model
    from .model.structure import dependent_note
    from .stability.structural import modes_at_state
    from .steadystate import read_steady_state, validate_steady_state

    kinetic = load_model(model)
    cm = compile_model(kinetic)
    st = cm.structure
    table = Table(title=f"{model} ({kinetic.name})", show_header=False)
    table.add_row("reactions", str(len(st.reactions)))
    table.add_row("species (variables + boundary)", f"{len(cm.species)} ({len(st.variables)} + {len(st.boundary)})")
    table.add_row("reduced Jacobian size", str(st.n_independent))
    table.add_row("conserved pools", f"{len(st.dependent)}: " + "; ".join(_pool_text(p) for p in st.pools())
                  if len(st.dependent) else "none")
    table.add_row("dependent species", ", ".join(st.variables[i] for i in st.dependent) or "none")
    mechanisms = Counter(r.mechanism for r in kinetic.reactions.values())
    table.add_row("mechanisms", ", ".join(f"{k} {v}" for k, v in mechanisms.most_common()))
    modifiers = Counter(m.kind for r in kinetic.reactions.values() for m in r.modifiers)
    table.add_row("modifiers", ", ".join(f"{k} {v}" for k, v in modifiers.most_common()) or "none")
    kinds = Counter(cm.km_kinds)
    table.add_row("constants (declared / in rate laws)", f"{len(cm.km_names)} / {int(cm.km_used.sum())} ("
                  + ", ".join(f"{kinds[k]} {k}" for k in ("km", "ki", "ka") if kinds[k]) + ")")
    if steady_state is not None:
        state = read_steady_state(steady_state)
        report = validate_steady_state(cm, state)
        table.add_row("steady state", f"{steady_state}: valid")
        table.add_row("worst |N.v|", f"{report.worst_imbalance:.3g} mmol/gDW/h ({report.worst_species})")
        table.add_row("smallest |dG/RT|", f"{report.min_margin:.3g} ({report.min_margin_reaction})")
        n_keq = int(cm.thermodynamic.sum())
        table.add_row(f"second law, all {n_keq} Keq ({int((cm.thermodynamic & ~cm.reversible).sum())} irreversible)",
                      f"smallest -sign(v) dG/RT {report.thermo_margin:.3g} ({report.thermo_margin_reaction})")
        table.add_row("running uphill", "; ".join(f"{r} dG/RT = {g:+.3g}" for r, g in report.uphill) or "none")
        modes = modes_at_state(cm, state)
        table.add_row("modes no Km set moves", "; ".join(m.describe() for m in modes) or "none")
    console.print(table)
    note = dependent_note(kinetic, st)
    if note:
        console.print(f"note: {note}", highlight=False, soft_wrap=True)
    for label, bc in kinetic.boundary_conditions.items():
        if bc.kind == "BoundaryFlux":
            console.print(f"note: boundary condition '{label}' (BoundaryFlux {bc.flux:g} on {bc.species}) is kept but "
                          "does not enter the model's ODE, as in SKiMpy's KineticModel (only its Reactor applies "
                          "boundary fluxes)", highlight=False, soft_wrap=True)


def _pool_text(pool: dict[str, float]) -> str:
    """``{'a': 1, 'b': -2}`` -> ``'a - 2 b'``."""
    text = ""
    for species, coeff in pool.items():
        sign = "-" if coeff < 0 else "+"
        size = "" if abs(coeff) == 1 else f"{abs(coeff):g} "
        text += f" {sign} {size}{species}" if text else f"{'-' if coeff < 0 else ''}{size}{species}"
    return text


@command()
def stability(
    km: Annotated[Path, typer.Option(help=(
        "Km CSV (header = constant names, one set per row, mol/L), or a SKiMpy YAML model whose "
        "parameters carry the constants (give --km-scale)."))],
    steady_state: Annotated[Path, typer.Option(help="Steady state CSV (id,kind,value).")],
    out: Annotated[Path, typer.Option(help="Output CSV: lambda_max,valid,reason per Km row.")],
    model: ModelOption = ECOLI,
    km_scale: Annotated[Optional[float], typer.Option(help=(
        "Concentration unit of the constants in a --km model file, per mol/L (1e6: uM, as SKiMpy's "
        "varma_strain files; 1e9: nM)."))] = None,
    threshold: ThresholdOption = VALID_LAMBDA_MAX,
    backend: BackendOption = Backend.numpy,
    device: Annotated[str, typer.Option(help="torch device, e.g. cuda.")] = "cpu",
    threads: ThreadsOption = None,
    force: ForceOption = False,
) -> None:
    """lambda_max and validity of every Km set at a steady state (Michaelis, inhibition and
    activation constants; Vmax back-calculated from the state)."""
    from ._files import write_text_atomic
    from ._validation import check_device
    from .model import compile_model, load_model
    from .stability import prepare_stability
    from .stability.evaluate import evaluate_in_blocks, stability_table_text
    from .stability.km import read_km_table, read_model_constants
    from .stability.structural import modes_at_state
    from .steadystate import read_steady_state, validate_steady_state

    _claim(out, force=force, inputs=[km, steady_state, model])
    check_device(device, "--device")
    cm = compile_model(load_model(model))
    state = read_steady_state(steady_state)
    validate_steady_state(cm, state)
    problem = prepare_stability(cm, state)
    for mode in modes_at_state(cm, state):
        _print_warning(f"{steady_state}: {mode.describe()}")
    names = [n for n, used in zip(cm.km_names, cm.km_used) if used]
    if km.suffix.lower() in (".yml", ".yaml"):
        if km_scale is None:
            raise RenaissanceError(f"{km}: a model file's constants have no unit; give --km-scale (1e6 if they "
                                   "are in uM, 1e9 if in nM)")
        km_sets = read_model_constants(km, cm.km_names, km_scale, required=names)
        console.print(f"constants read from {km}: {len(names)} that enter the rate laws, in "
                      f"1/{km_scale:g} mol/L (--km-scale)", highlight=False, soft_wrap=True)
    else:
        km_sets = read_km_table(km, cm.km_names, required=names)
    start = time.perf_counter()
    with _progress() as progress:
        task = progress.add_task("evaluating Km sets", total=len(km_sets))
        result = evaluate_in_blocks(problem, km_sets, threshold=threshold, backend=backend.value, device=device,
                                    n_threads=threads, mode="exact", on_block=lambda rows: progress.advance(task, rows))
    elapsed = time.perf_counter() - start
    write_text_atomic(out, stability_table_text(result))
    console.print(f"{result.valid.sum()} of {len(result.valid)} Km sets valid (lambda_max <= {threshold:g} 1/h); "
                  f"{len(result.valid) / elapsed:,.0f} sets/s; wrote {out}")


@command("steady-state")
def steady_state_command(
    out: Annotated[Path, typer.Option(help="Output steady-state CSV (id,kind,value).")],
    model: ModelOption = ECOLI,
    constraints: ConstraintsOption = None,
    seed: Annotated[int, typer.Option(help="Seed of the interior-point choice.")] = 0,
    force: ForceOption = False,
) -> None:
    """A first thermodynamically consistent steady state (flux balance + second law, HiGHS)."""
    from .model import compile_model, load_model
    from .steadystate import validate_steady_state, write_steady_state
    from .steadystate.tfa import find_steady_state

    _claim(out, force=force, inputs=[model, constraints])
    cm = compile_model(load_model(model))
    state = find_steady_state(cm, _constraints(cm, constraints), seed=seed)
    report = validate_steady_state(cm, state)
    write_steady_state(state, out)
    console.print(f"wrote {out}: worst |N.v| {report.worst_imbalance:.2g} mmol/gDW/h, "
                  f"smallest |dG/RT| {report.min_margin:.3g} ({report.min_margin_reaction})")


def _constraints(cm, path: Optional[Path]):
    """The TFASettings of ``path``, else of the model's presets (the shipped E. coli model), else
    the model-neutral defaults, with a note saying so."""
    from .steadystate.constraints import model_constraints

    settings, source = model_constraints(cm, path)
    if source is None:
        console.print("note: no --constraints: model-neutral defaults (no growth bound, |v| <= "
                      f"{settings.default_flux_bound:g} mmol/gDW/h, concentrations in "
                      f"[{settings.concentration_bounds[0]:g}, {settings.concentration_bounds[1]:g}] mol/L); "
                      "renaissance init writes a starter constraints file", highlight=False, soft_wrap=True)
    return settings


def _sample(cm, constraints: Optional[Path], n: int, seed: int, **options):
    """Sample ``n`` states with a progress bar, print the report and the energy-generating
    cycles the sampled direction patterns run; return the sample."""
    from .steadystate.cycles import cycles_run_by_patterns
    from .steadystate.sampler import sample_steady_states

    settings = _constraints(cm, constraints)
    with _progress() as progress:
        task = progress.add_task("sampling steady states", total=n)
        sample = sample_steady_states(cm, settings, n, seed=seed, progress=lambda k: progress.advance(task, k),
                                      **options)
    console.print(sample.report.summary(), highlight=False)
    cycles = [c.describe() for c in cycles_run_by_patterns(cm, sample.patterns)]
    console.print("energy-generating cycles run by the sampled direction patterns: "
                  + ("; ".join(cycles) if cycles else "none"), highlight=False)
    return sample


@command()
def sample(
    out: Annotated[Path, typer.Option(help="Output file (.csv; .parquet when pyarrow is installed).")],
    n: Annotated[int, typer.Option(help="Number of states.")] = 5000,
    model: ModelOption = ECOLI,
    constraints: ConstraintsOption = None,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same file).")] = 0,
    patterns: Annotated[int, typer.Option(help="Direction patterns to sample.")] = 1,
    thinning: Annotated[Optional[int], typer.Option(help="Sweeps between kept states.")] = None,
    burn_in: Annotated[Optional[int], typer.Option(help="Sweeps before the first kept state.")] = None,
    force: ForceOption = False,
) -> None:
    """Uniformly sample thermodynamically consistent steady states (coordinate hit-and-run)."""
    from .model import compile_model, load_model
    from .steadystate.samples_io import write_samples

    _claim(out, force=force, inputs=[model, constraints])
    cm = compile_model(load_model(model))
    result = _sample(cm, constraints, n, seed, n_patterns=patterns, thinning=thinning, burn_in=burn_in)
    write_samples(result, out)
    console.print(f"wrote {out}")


@command()
def cycles(
    model: ModelOption = ECOLI,
    constraints: ConstraintsOption = None,
    max_cycles: Annotated[int, typer.Option(help="Energy-generating cycles to list at most.")] = 30,
    max_loops: Annotated[int, typer.Option(help="Internal loops to list at most.")] = 10,
) -> None:
    """Energy-generating cycles of the stored Keq and internal loops, by name, with what blocks them."""
    from .model import compile_model, load_model
    from .steadystate.cycles import cycle_report

    cm = compile_model(load_model(model))
    console.print(cycle_report(cm, _constraints(cm, constraints), max_cycles=max_cycles, max_loops=max_loops),
                  highlight=False)


@command()
def screen(
    n: Annotated[int, typer.Option(min=1, help="Number of random Km sets.")] = 10_000,
    states: Annotated[int, typer.Option(min=1, help="Number of steady states to sample.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    model: ModelOption = ECOLI,
    constraints: ConstraintsOption = None,
    threshold: ThresholdOption = VALID_LAMBDA_MAX,
    threads: ThreadsOption = None,
) -> None:
    """Screen random Km sets without training: how many are valid at a sampled state, how fast.

    Samples steady states of the model under the constraints, draws n log-uniform Km sets and
    evaluates them at the first state with both stability methods. Not the main job: that is
    `make demo` (train, generate, robustness, bioreactor)."""
    from .model import compile_model, load_model
    from .stability import prepare_stability
    from .stability.screening import MODES, screen_random_km
    from .stability.structural import check_structure
    from .steadystate import validate_steady_state

    t0 = time.perf_counter()
    cm = compile_model(load_model(model))
    console.print(f"model {model.name}: {cm.n_reactions} reactions, {len(cm.km_names)} Km, "
                  f"reduced Jacobian {cm.structure.n_independent}x{cm.structure.n_independent}")
    state = _sample(cm, constraints, states, seed).state(0)
    report = validate_steady_state(cm, state)
    console.print(f"state 0: worst |N.v| {report.worst_imbalance:.2g} mmol/gDW/h, smallest |dG/RT| "
                  f"{report.min_margin:.3g} ({report.min_margin_reaction})")
    check_structure(cm, state, label="sampled state 0")
    problem = prepare_stability(cm, state)
    with _progress() as progress:
        tasks = {mode: progress.add_task(f"evaluating Km sets ({mode})", total=n) for mode in MODES}
        found = screen_random_km(problem, n, seed=seed, threshold=threshold, n_threads=threads,
                                 on_block=lambda mode, rows: progress.advance(tasks[mode], rows))
    for screened in found:
        console.print(screened.describe(), highlight=False)
    console.print(f"total {time.perf_counter() - t0:.1f} s")


#: the outputs held by the running command (:func:`_claim`); the command guard releases them
#: the outputs held by the running command (set by ``command``)
_CLAIMS: contextvars.ContextVar[contextlib.ExitStack] = contextvars.ContextVar("claims")


def _claim(path: Path, **check) -> None:
    """Hold the output ``path`` until the command ends: lock it, check it and remove a killed run's
    leftovers (:func:`renaissance._files.claim_output` with ``check``); released when it returns or fails."""
    from ._files import claim_output

    _CLAIMS.get().enter_context(claim_output(path, **check))


def _print_warning(text: str) -> None:
    err_console.print(Text.assemble(("warning: ", "yellow"), text), highlight=False, soft_wrap=True)


def _generation_printer(generations: int):
    """A per-generation printer: ``gen i/N``, the generator's own models, the children's, and the
    time left (the mean time per generation so far times those left)."""
    seconds: list[float] = []

    def print_row(row: dict) -> None:
        seconds.append(row["seconds"])
        left = (generations - int(row["generation"])) * sum(seconds) / len(seconds)
        robust = "" if np.isnan(row["robustness_mean"]) else f"  robustness {row['robustness_mean']:.2f}"
        console.print(
            f"gen {int(row['generation']):{len(str(generations))}d}/{generations}  generator: valid "
            f"{100 * row['generator_incidence']:5.1f}%, median lambda_max {row['generator_lambda_q50']:.3g} 1/h  |  "
            f"children (dropout): valid {100 * row['children_incidence']:5.1f}%, lambda_max q10/q50/q90 "
            f"{row['lambda_q10']:.3g}/{row['lambda_q50']:.3g}/{row['lambda_q90']:.3g}  reward best "
            f"{row['reward_best']:.3f} mean {row['reward_mean']:.3f}{robust}  {row['seconds']:.2f} s, "
            f"~{_duration(left)} left", highlight=False, soft_wrap=True)

    return print_row


def _duration(seconds: float) -> str:
    """``42 s``, ``3 min 5 s``."""
    seconds = round(seconds)
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60} s"


@command()
def train(
    config: Annotated[Optional[Path], typer.Option(
        help="Training TOML (default: the shipped E. coli config; with --model, model-neutral defaults).")] = None,
    out: Annotated[Optional[Path], typer.Option(
        help="Run directory (checkpoints, history, figures; default runs/ecoli, with --model runs/<model name>).")] = None,
    model: Annotated[Optional[Path], typer.Option(
        "--model", "-m", help="SKiMpy YAML model (overrides the config's; without --config, give --state SS.csv).")] = None,
    constraints: Annotated[Optional[Path], typer.Option(
        help="Constraints the state was made under (recorded: its growth.reaction is the growth reaction of "
             "robustness and bioreactor; overrides the config's).")] = None,
    resume: Annotated[bool, typer.Option(help=(
        "Continue the run(s) in --out from the last checkpoint (a run stopped before its first checkpoint starts "
        "afresh from its config.toml)."))] = False,
    force: Annotated[bool, typer.Option(help=(
        "Start afresh: first remove a run already in --out (config.toml, checkpoint.npz, history.csv, final.npz, "
        "figures, seed_*; other files there stay)."))] = False,
    preset: Annotated[Optional[str], typer.Option(
        help="Preset: default or paper; replaces the config's [generator] (but the Km bounds) and [nes] tables.")] = None,
    generations: Annotated[Optional[int], typer.Option(min=1, help="NES generations (overrides the config).")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed (overrides the config).")] = None,
    state: Annotated[Optional[str], typer.Option(
        help="Steady state: an id,kind,value CSV, or without --model a shipped E. coli one by name (showcase: the "
             "batch culture, the default; measured: the 0.3 showcase; fixture) (overrides the config).")] = None,
    target: Annotated[Optional[float], typer.Option(
        help="Train towards lambda_max <= TARGET 1/h (< 0, at most the threshold; overrides the config).")] = None,
    reward: Annotated[Optional[str], typer.Option(
        help="Reward: rank_incidence, incidence, fast_dynamics or package.module:function (overrides the config).")] = None,
    robustness_models: Annotated[Optional[int], typer.Option(
        min=0, help="Valid models per child integrated for the robustness reward term (0: off; overrides the config).")] = None,
    repeats: Annotated[int, typer.Option(min=1, help="Independent runs with seeds seed, seed+1, ... in --out/seed_<s>.")] = 1,
    plots: Annotated[bool, typer.Option(help="Write figures to --out/figures.")] = True,
    threads: ThreadsOption = None,
    device: Annotated[str, typer.Option(help="torch device of the generator and Jacobians (cpu, cuda).")] = "cpu",
    allow_code: Annotated[Optional[list[str]], typer.Option(
        "--allow-code", metavar="MODULE", help=(
            "Let a package.module:function reward (of the config or --reward) import and run Python module MODULE "
            "(repeatable); without it such a reward is refused: a settings file runs no code."))] = None,
) -> None:
    """Train a generator by NES until its Km sets give lambda_max <= threshold; a line per generation."""
    from dataclasses import replace

    from .generator.plots import plot_runs
    from .generator.settings import configured_settings
    from .generator.training import CONFIG, OUTPUTS, load_run_settings, runs_to_resume
    from .generator.training import train as train_run
    from .stability.rewards import resolve_reward

    overrides = {"--config": config, "--model": model, "--constraints": constraints, "--preset": preset,
                 "--seed": seed, "--generations": generations, "--state": state, "--target": target,
                 "--reward": reward, "--robustness-models": robustness_models}
    run_out = out if out is not None else Path("runs") / (model.stem if model is not None else "ecoli")
    if resume:
        given = [name for name, value in overrides.items() if value is not None]
        if given:
            raise RenaissanceError(f"--resume continues {run_out} as configured in its {CONFIG}; drop "
                                   f"{', '.join(given)}")
        run_dirs, base = runs_to_resume(run_out), None
    else:
        base = configured_settings(config, preset=preset, seed=seed, generations=generations, target_lambda=target,
                                   reward=reward, robustness_models=robustness_models, state=state, model=model,
                                   constraints=constraints)
        run_dirs = [run_out] if repeats == 1 else [run_out / f"seed_{base.seed + k}" for k in range(repeats)]
    for run_dir in run_dirs:  # a module reward is refused before anything is imported or written
        resolve_reward((base or load_run_settings(run_dir)).nes.reward, allow_code or (),
                       "--reward" if reward is not None else str(run_dir / CONFIG if resume else config or "[nes] reward"))
    _claim(run_out, outputs=OUTPUTS, force=force, resume=resume, inputs=[config, model, constraints, state],
           what="a training run")
    results = []
    for k, run_dir in enumerate(run_dirs):
        settings = None if base is None else replace(base, seed=base.seed + k)
        run_settings = settings if settings is not None else load_run_settings(run_dir)
        problem, nes = run_settings.problem, run_settings.nes
        console.print(f"[bold]training[/bold] -> {run_dir}" + (" (resumed)" if resume else ""), highlight=False)
        console.print(f"model {problem.model}, state {problem.state_label}; preset {run_settings.preset}, seed "
                      f"{run_settings.seed}, {nes.generations} generations x {nes.population} children x "
                      f"{nes.models_per_child} models; valid: lambda_max <= {nes.threshold:g} 1/h",
                      highlight=False, soft_wrap=True, markup=False)
        start = time.perf_counter()
        result = train_run(settings, run_dir, resume=resume, overwrite=force, n_threads=threads, device=device,
                           on_generation=_generation_printer(nes.generations), on_note=_print_warning,
                           allow_import=allow_code or ())
        console.print(result.summary(), highlight=False, soft_wrap=True)
        console.print(f"{run_dir}: {time.perf_counter() - start:.1f} s")
        results.append(result)
    if plots:
        paths = plot_runs(results, run_out / "figures")
        console.print(f"figures: {', '.join(str(p) for p in paths if p.suffix == '.png')}", soft_wrap=True)


@command()
def generate(
    run_dir: Annotated[Path, typer.Argument(help="A training run directory.")],
    n: Annotated[int, typer.Option("--n", min=1, help="Models to write.")] = 1000,
    out: Annotated[Path, typer.Option(help="Population file (HDF5).")] = Path("population.h5"),
    seed: Annotated[int, typer.Option(help="Seed of the latent noise.")] = 0,
    valid_only: Annotated[bool, typer.Option(help="Keep only valid models (generate until --n are found).")] = False,
    stability: Annotated[bool, typer.Option(help="Compute lambda_max and validity of every model.")] = True,
    dtype: Annotated[Optional[DType], typer.Option(
        help="Dense-layer compute type: float32 or bfloat16 (faster on AMX CPUs; default: the run's).")] = None,
    threads: ThreadsOption = None,
    device: Annotated[str, typer.Option(help="torch device (cpu, cuda).")] = "cpu",
    force: ForceOption = False,
) -> None:
    """Emit Km sets from a trained generator, with back-calculated Vmax and lambda_max, into HDF5."""
    from .generator.checkpoint import CHECKPOINT
    from .generator.population import generate_population
    from .generator.training import CONFIG

    _claim(out, force=force, inputs=[run_dir / CONFIG, run_dir / CHECKPOINT])
    with _progress() as progress:
        task = progress.add_task("generating models", total=n)
        report = generate_population(run_dir, n, out, seed=seed, valid_only=valid_only, stability=stability,
                                     dtype=dtype.value if dtype else None, n_threads=threads, device=device,
                                     on_chunk=lambda written, _: progress.update(task, completed=written))
    detail = f", {report.valid} valid" if stability else " (stability not evaluated)"
    console.print(f"wrote {out}: {report.written} models of {report.generated} generated{detail}; "
                  f"{report.seconds:.2f} s = {report.generated / max(report.seconds, 1e-9):,.0f} models/s", highlight=False,
                  soft_wrap=True)
    if stability and report.valid < (n if valid_only else 1):
        console.print(f"[yellow]warning:[/yellow] {'only ' if report.valid else ''}{report.valid} of "
                      f"{report.generated} generated models are valid: this generator rarely or never reaches the "
                      "threshold at its state. Train longer, or check with `renaissance landscape` whether the "
                      "state admits valid models at all.", highlight=False, soft_wrap=True)


@command()
def robustness(
    population: PopulationArgument,
    out: Annotated[Path, typer.Option(help="Output directory (runs.csv, summary.csv, figures).")] = Path("robustness"),
    perturbation: Annotated[float, typer.Option(help="Perturb every balanced species by up to +-p (relative).")] = 0.5,
    n_perturbations: Annotated[int, typer.Option(min=1, help="Perturbations per model.")] = 1,
    times: Annotated[str, typer.Option(help="Check times in minutes, comma separated.")] = "24,34",
    tolerance: Annotated[float, typer.Option(help="Returned when |x/x* - 1| <= tolerance.")] = 0.01,
    max_models: Annotated[Optional[int], typer.Option(min=1, help="Use the first N models.")] = None,
    all_models: Annotated[bool, typer.Option(help="Include invalid models (default: valid ones only).")] = False,
    method: Annotated[str, typer.Option(help="Integrator: LSODA, BDF or Radau.")] = "LSODA",
    seed: Annotated[int, typer.Option(help="Seed of the perturbations.")] = 0,
    workers: Annotated[Optional[int], typer.Option(min=1, help="Processes (default: all cores).")] = None,
    resume: Annotated[bool, typer.Option(
        help="Keep the finished models in --out and run the rest (same settings; others are refused).")] = False,
    force: FolderForceOption = False,
    plot: Annotated[Optional[str], typer.Option(help=(
        "Species to plot, comma separated (default: the paper's NADH, ATP and glutamine for the shipped E. coli "
        "model, else the 3 species last to return; empty: none)."))] = None,
    plot_models: Annotated[int, typer.Option(help="Models in the trajectory plot.")] = 5,
    growth: Annotated[Optional[str], typer.Option(help=(
        "Growth reaction of the biomass group (default: growth.reaction of --constraints, else the biomass entry "
        "of --medium, else growth.reaction of the constraints the training recorded, else the only reaction whose "
        "id contains 'biomass' or 'growth'; none: no biomass group)."))] = None,
    constraints: Annotated[Optional[Path], typer.Option(
        help="Constraints file whose growth.reaction is the growth reaction.")] = None,
    medium: Annotated[Optional[Path], typer.Option(
        help="Bioreactor medium file whose biomass entry is the growth reaction (when no constraints name one).")] = None,
    groups: Annotated[Optional[str], typer.Option(help=(
        "Cofactor groups: NAME=species1+species2,... or a YAML file (layout of the shipped robustness_groups.yaml); "
        "empty: none (default: NADH, ATP, NADPH by species id, those the model lacks skipped)."))] = None,
) -> None:
    """Perturb every model's steady state, integrate the nonlinear ODEs, report who returns by when."""
    from .dynamics.integrate import IntegrationSettings
    from .dynamics.plots import check_plot_species, default_plot_species, plot_trajectories
    from .dynamics.robustness import OUTPUTS, RobustnessSettings, robustness_study, study_problem
    from .dynamics.robustness_report import returned_table, study_report
    from .parameterised import open_population

    settings = RobustnessSettings(perturbation=perturbation, n_perturbations=n_perturbations,
                                  times_min=tuple(_numbers(times, "--times")), tolerance=tolerance, seed=seed,
                                  integration=IntegrationSettings(method=method))
    pop, model = open_population(population)
    rows = pop.rows(all_models=all_models, max_models=max_models)
    problem = study_problem(model, growth=growth, constraints=constraints, medium=medium, groups=groups)
    for line in problem.skipped:
        console.print(f"note: {line}", highlight=False, soft_wrap=True)
    species = None if plot is None else [s for s in plot.split(",") if s]
    check_plot_species(problem, species or [])
    _claim(out, outputs=OUTPUTS, force=force, resume=resume, inputs=[population, constraints, medium, groups])
    start = time.perf_counter()
    with _progress() as progress:
        task = progress.add_task("integrating models", total=len(rows))
        study = robustness_study(problem, pop.km[rows], pop.vmax[rows], settings, out, models=rows, resume=resume,
                                 n_workers=workers, on_model=lambda _: progress.advance(task),
                                 files=model.files.digests())
    elapsed = time.perf_counter() - start
    title, columns, table_rows = returned_table(study, len(rows))
    table = Table(title=title)
    for j, column in enumerate(columns):
        table.add_column(column, justify="right" if j else "left")
    for cells in table_rows:
        table.add_row(*cells)
    console.print(table)
    for text in study_report(study):
        console.print(text, highlight=False, soft_wrap=True, markup=False)
    console.print(f"{len(rows)} models in {elapsed:.1f} s; wrote {out / 'runs.csv'}, {out / 'summary.csv'}",
                  soft_wrap=True)
    species = default_plot_species(study) if species is None else species
    if species:
        picks = rows[:plot_models]
        paths = plot_trajectories(problem, pop.km[picks], pop.vmax[picks], picks, species, settings, out,
                                  n_population=len(rows), title=f"{population.name}: state {model.state_name}")
        console.print(f"figure: {paths[0]}", soft_wrap=True)


def _numbers(text: str, option: str) -> list[float]:
    """Comma-separated numbers of an option; anything else is one error naming the option."""
    try:
        return [float(t) for t in text.split(",")]
    except ValueError:
        raise RenaissanceError(f"{option} '{text}': expected numbers separated by commas") from None


@command()
def bioreactor(
    population: PopulationArgument,
    medium: Annotated[Optional[Path], typer.Option(help=(
        "Medium / reactor YAML (default: the shipped E. coli set-up for the shipped E. coli model; renaissance "
        "init writes a starter medium for any model)."))] = None,
    hours: Annotated[float, typer.Option(help="Duration (h).")] = 60.0,
    points: Annotated[int, typer.Option(min=2, help="Output time points.")] = 121,
    out: Annotated[Path, typer.Option(help="Output directory (timecourses.csv, fit.csv, figures).")] = Path("bioreactor"),
    measured: Annotated[Optional[str], typer.Option(help=(
        "Measured fermentation to score the models against: an experiment YAML (CSV, series -> column, species, "
        "molar mass, error bars; layout: the shipped ecoli_trpD9923_batch.yaml, the default for the shipped E. coli "
        "model) or a plain CSV (time_h, biomass in g/L and/or medium species ids in mol/L); 'none': no comparison."))]
    = None,
    match_tolerance: Annotated[float, typer.Option(min=0.0, help=(
        "A model matches a measured series when its RMS error relative to the series' largest value is at most "
        "this, and the experiment when it matches every series."))] = 0.15,
    keep: Annotated[int, typer.Option(help=(
        "Best-ranked models to list (by the worst series error), highlighted in fit.png when fewer match."))] = 13,
    initial: Annotated[Optional[str], typer.Option(help=(
        "Where the extracellular species start: steady_state (the state's own concentrations, the reference's "
        "behaviour; the cells start at their steady state) or initial_medium (the medium file's); default: the "
        "medium file's initial_conditions, else steady_state."))] = None,
    explain: Annotated[int, typer.Option(min=0, help=(
        "What ends growth in the N best-ranked models: each nutrient they take up is held constant in turn (and "
        "those exhausted when growth stops, together) and the gain in final biomass reported (limitation.csv)."))]
    = 0,
    max_models: Annotated[Optional[int], typer.Option(min=1, help="Use the first N valid models.")] = 20,
    all_models: Annotated[bool, typer.Option(help="Include invalid models (default: valid ones only).")] = False,
    workers: Annotated[Optional[int], typer.Option(min=1, help="Processes (default: all cores).")] = None,
    resume: Annotated[bool, typer.Option(
        help="Keep the finished models in --out and run the rest (same settings; others are refused).")] = False,
    force: FolderForceOption = False,
) -> None:
    """Batch fermentation of every valid model: biomass and the medium's reported species over time; fit to data.

    The medium file names the growth reaction, the medium and the species reported (for the
    shipped E. coli set-up glucose and anthranilate). With a measured fermentation (--measured;
    for the shipped E. coli model by default the strain's batch culture, Hernandez et al. 2009) each
    model is scored per series and those within --match-tolerance on every series match it
    (fit.csv, fit.png)."""
    from .dynamics.fermentation import OUTPUTS, FermentationOptions, fermentation_study
    from .parameterised import open_population

    pop, model = open_population(population)
    rows = pop.rows(all_models=all_models, max_models=max_models)
    options = FermentationOptions(medium=medium, hours=hours, points=points, measured=measured,
                                  match_tolerance=match_tolerance, keep=keep, initial=initial, explain=explain)
    _claim(out, outputs=OUTPUTS, force=force, resume=resume, inputs=[population, medium, measured])
    with _progress() as progress:
        task = progress.add_task("simulating fermentations", total=len(rows))
        report = fermentation_study(model, pop.km[rows], pop.vmax[rows], rows, out, options, resume=resume,
                                    n_workers=workers, on_model=lambda _: progress.advance(task))
    for line in report.lines:
        console.print(line, highlight=False, soft_wrap=True, markup=False)
    console.print("wrote " + ", ".join(str(p) for p in report.files if p.suffix != ".svg"), soft_wrap=True)


@command()
def landscape(
    states: Annotated[Path, typer.Option(help="Sampled states (renaissance sample: .csv or .parquet).")],
    out: Annotated[Path, typer.Option(help="Output directory (landscape.csv, ranges, maps).")] = Path("landscape"),
    model: ModelOption = ECOLI,
    config: Annotated[Optional[Path], typer.Option(help="Landscape TOML ([search], [robustness], seed, [units]).")] = None,
    first: Annotated[Optional[int], typer.Option(min=1, help="Score only the first N states.")] = None,
    workers: Annotated[Optional[int], typer.Option(
        min=0, help="Ray workers of the local instance (default: all cores); 0: no Ray, in this process.")] = None,
    ray_address: Annotated[Optional[str], typer.Option(help="Address of an existing Ray cluster (e.g. ray://host:10001).")] = None,
    resume: Annotated[bool, typer.Option(help="Keep the finished states in --out and score the rest.")] = False,
    force: FolderForceOption = False,
    maps: Annotated[bool, typer.Option(help="PCA -> t-SNE polar map and embedding.csv.")] = True,
) -> None:
    """Score every sampled steady state by the fastest dynamics its Km can give, then map and explain them."""
    from .analysis.landscape import TABLE, landscape_study, load_landscape_settings
    from .analysis.maps import state_matrix
    from .analysis.report import OUTPUTS, landscape_report
    from .model import compile_model, load_model
    from .steadystate import read_samples

    settings = load_landscape_settings(config)
    cm = compile_model(load_model(model))
    sampled = read_samples(states)[:first]
    inputs = {"model": str(model.resolve()), "states": str(states.resolve()), "first": len(sampled)}
    _claim(out, outputs=OUTPUTS, force=force, resume=resume, inputs=[states, model, config])
    with _progress() as progress:
        task = progress.add_task("scoring states", total=len(sampled))
        table = landscape_study(cm, sampled, settings, out, resume=resume, n_workers=workers, ray_address=ray_address,
                                on_state=lambda _: progress.advance(task), inputs=inputs)
    _print_landscape(table, settings.search.threshold, workers, out / TABLE)
    report = landscape_report(state_matrix(cm, sampled, settings.units), table, out,
                              threshold=settings.search.threshold, seed=settings.seed, maps=maps)
    for question, ranking in (("fast", report.fast), ("robust", report.robust)):
        if ranking:
            console.print(f"strongest separators of {question} states: "
                          + "; ".join(s.describe(question) for s in ranking[:3]), soft_wrap=True, highlight=False)
    if report.neighbours is not None:
        console.print(f"t-SNE neighbourhoods: {100 * report.neighbours[0]:.1f}% of the 10 nearest neighbours share a "
                      f"state's class (random placement: {100 * report.neighbours[1]:.1f}%)", highlight=False)
    console.print(f"wrote {', '.join(str(p) for p in report.files if p.suffix != '.svg')}", soft_wrap=True)


def _print_landscape(table, threshold: float, workers: Optional[int], path: Path) -> None:
    import os

    admits = table.column("admits").astype(bool)
    seconds = table.column("seconds")
    reasons = Counter(r["reason"] for r in table.rows if r["reason"])
    console.print(f"{int(admits.sum())} of {len(admits)} states ({100 * admits.mean():.1f}%) admit lambda_max <= "
                  f"{threshold:g} 1/h; others: {dict(reasons)}", highlight=False, soft_wrap=True)
    robust = table.column("robust_fraction")
    if np.isfinite(robust).any():
        console.print(f"valid models back after perturbation: median {np.nanmedian(robust):.2f} over "
                      f"{int(np.isfinite(robust).sum())} admitting states", highlight=False)
    n_workers = (workers if workers is not None else os.cpu_count()) or 1
    per_state = float(np.nanmean(seconds))
    console.print(f"{per_state:.2f} s per state on one worker; this run scored {table.scored} states in "
                  f"{table.seconds:.0f} s; projection for 5,000 states: {5000 * per_state / n_workers / 60:.0f} min on "
                  f"{n_workers} worker(s), {5000 * per_state / 64 / 60:.1f} min on 64. Table: {path}",
                  highlight=False, soft_wrap=True)


@command("landscape-check")
def landscape_check(
    landscape_dir: Annotated[Path, typer.Argument(help="A scored landscape (renaissance landscape --out).")],
    constraints: ConstraintsOption = None,
    n: Annotated[int, typer.Option(min=1, help="States sampled per case.")] = 200,
    top: Annotated[int, typer.Option(min=1, help="Strongest separating ranges imposed.")] = 1,
    seed: Annotated[int, typer.Option(help="Sampler seed.")] = 1,
    workers: Annotated[Optional[int], typer.Option(min=0, help="Ray workers (0: in this process).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue interrupted checks (same --n, --top, --seed).")] = False,
    force: Annotated[bool, typer.Option(help="Start afresh: first remove the checks of an earlier run "
                                              "(LANDSCAPE_DIR/check_inside, check_outside).")] = False,
) -> None:
    """The paper's closing check: sample new states inside (and outside) the separating ranges and score them."""
    from .analysis.report import CHECK_OUTPUTS, closing_check

    _claim(landscape_dir, outputs=CHECK_OUTPUTS, force=force, resume=resume, inputs=[constraints],
           what="the checks of an earlier run")
    with _progress() as progress:
        task = progress.add_task("scoring sampled states (inside, then outside the ranges)", total=2 * n)
        cases, threshold = closing_check(landscape_dir, constraints, n=n, top=top, seed=seed, n_workers=workers,
                                         resume=resume, on_state=lambda _: progress.advance(task))
    summary = Table(title=f"states admitting lambda_max <= {threshold:g} 1/h")
    for column in ("states", "n", "admitting"):
        summary.add_column(column)
    for case in cases:
        summary.add_row(case.label, str(case.n), f"{100 * case.admitting:.1f}%")
    console.print(summary)


@command("km-integration")
def km_integration(
    out: Annotated[Path, typer.Option(help="Output directory (one sub-directory per case, overlap tables, PCA).")],
    measurements: Annotated[Optional[Path], typer.Option(
        help="Measured Km CSV (name,min,max,value,unit,source); or use --truth for a twin experiment.")] = None,
    truth: Annotated[Optional[Path], typer.Option(
        help="Twin experiment: a population whose model --truth-index stands in for the truth; the Km of "
             "--subsystem and --enzyme are 'measured' (+-20%).")] = None,
    truth_index: Annotated[int, typer.Option(help="Row of the truth model in --truth (must be valid).")] = 0,
    config: Annotated[Optional[Path], typer.Option(help="Training TOML (default: shipped E. coli config).")] = None,
    subsystems: Annotated[Optional[Path], typer.Option(
        help="reaction,subsystem CSV (default: the shipped mapping for the shipped E. coli model; "
             "for other models every reaction is 'Unassigned').")] = None,
    enzyme: Annotated[Optional[str], typer.Option(help=(
        "Local design: reactions of one enzyme, comma separated (empty: none; default: the paper's aconitase for "
        "the shipped E. coli model, none for other models)."))] = None,
    subsystem: Annotated[Optional[str], typer.Option(help=(
        "Subsystem of the subsystem-wide design (empty: none; default: the paper's TCA cycle for the shipped "
        "E. coli model, none for other models)."))] = None,
    k: Annotated[int, typer.Option(min=0, help="Measured Km of the subsystem integrated per combination (0: none).")] = 9,
    combinations: Annotated[int, typer.Option(min=1, help="Random combinations of k Km.")] = 10,
    seed: Annotated[int, typer.Option(help="Seed of the combinations and of the populations.")] = 0,
    controls: Annotated[int, typer.Option(
        min=0, help="Control cases: the baseline retrained with seeds +1, +2, ... (the null for the designs).")] = 0,
    n_models: Annotated[int, typer.Option(min=10, help="Valid models per case.")] = 1000,
    generations: Annotated[Optional[int], typer.Option(help="NES generations per case (overrides the config).")] = None,
    resume: Annotated[bool, typer.Option(
        help="Keep the cases finished in --out and run the rest (same settings and measurements; others are "
             "refused).")] = False,
    force: FolderForceOption = False,
) -> None:
    """Integrate measured Km (local and subsystem-wide designs) and score the predicted ranges of the others."""
    from dataclasses import replace

    from .analysis.km_integration import study_design
    from .generator.km_study import OUTPUTS, km_integration_study
    from .generator.settings import configured_settings
    from .parameterised import parameterise

    settings = configured_settings(config, generations=generations)
    model = parameterise(replace(settings.problem, fixed_km=None))
    _claim(out, outputs=OUTPUTS, force=force, resume=resume, inputs=[measurements, truth, config, subsystems])
    design = study_design(model, out, measurements=measurements, truth=truth, truth_index=truth_index,
                          subsystems=subsystems, enzyme=enzyme, subsystem=subsystem, k=k, combinations=combinations,
                          seed=seed, controls=controls)
    start = time.perf_counter()
    report = km_integration_study(
        settings, model, design.measurements, design.cases, design.reference, design.subsystem_of, design.subsystem,
        out, n_models=n_models, seed=seed,
        on_case=lambda r: console.print(f"{r.case.name}: {len(r.ln_km)} valid models, {len(r.case.integrated)} Km "
                                        f"integrated, {r.outside_range} values outside their ranges", highlight=False))
    _print_km_report(report, design.subsystem)
    console.print(f"{time.perf_counter() - start:.0f} s; wrote {out / 'overlap.csv'}, {out / 'summary.csv'}, "
                  f"{out / 'shift.csv'}, {out / 'pca.png'}", soft_wrap=True)


def _print_km_report(report, subsystem: str) -> None:
    """Per design: the Km whose overlap score improved, the coverage of the reference ranges and
    the shift of the unmeasured Km."""
    for design in report.designs:
        inside, outside = report.improved(design, True), report.improved(design, False)
        console.print(f"{design}: overlap score improved for {inside[0]} of {inside[1]} Km in '{subsystem}' and "
                      f"{outside[0]} of {outside[1]} Km outside it (mean over the design's cases that did not fix "
                      f"the Km, vs baseline)", highlight=False)
        cover_in, cover_out = report.overlapping(design, True), report.overlapping(design, False)
        console.print(f"{design}: predicted 5-95% ranges overlap the reference for {100 * cover_in[0]:.0f}% -> "
                      f"{100 * cover_in[1]:.0f}% of the Km inside and {100 * cover_out[0]:.0f}% -> "
                      f"{100 * cover_out[1]:.0f}% outside (baseline -> integrated)", highlight=False)
    for shift in report.shifts:
        console.print(f"{shift['case']}: unmeasured Km centroid moved {shift['centroid_distance']:.3f} (RMS, ln units), "
                      f"median sd ratio {shift['spread_ratio']:.3f}", highlight=False)


#: exports of at least this many SBML files first say their size and duration
LARGE_EXPORT = 100


@command("export-sbml")
def export_sbml(
    population: PopulationArgument,
    out: Annotated[Path, typer.Option(help="SBML file (one model) or folder (--all).")],
    index: Annotated[int, typer.Option(min=0, help="Row of the population to export.")] = 0,
    all_models: Annotated[bool, typer.Option("--all", help=(
        "Export every valid model as OUT/model_<i>.xml (all written, or none: a temporary folder moved into place "
        "at the end)."))] = False,
    force: Annotated[bool, typer.Option(help=(
        "Replace --out if it exists (with --all: first remove the model_<i>.xml files already in it; other files "
        "there stay)."))] = False,
) -> None:
    """Write parameterised models as SBML Level 3 (checked with libSBML's consistency checks)."""
    from ._files import write_folder_atomic
    from .interop.sbml import model_to_sbml, write_sbml
    from .parameterised import open_population

    pop, problem = open_population(population)
    rows = np.flatnonzero(pop.valid) if all_models else [index]
    if not all_models and index >= len(pop):
        raise RenaissanceError(f"{population}: --index {index}, but the population has {len(pop)} models")
    _claim(out, force=force, inputs=[population], outputs=("model_*.xml",) if all_models else None)

    def sbml(i: int) -> str:
        return model_to_sbml(problem.cm, problem.state, pop.km[i], pop.vmax[i], problem.units,
                             model_id=f"{problem.cm.model.name or 'model'}_{i}")

    def write_all(folder: Path) -> None:
        start = time.perf_counter()
        with _progress() as progress:
            task = progress.add_task("writing SBML models", total=len(rows))
            for k, i in enumerate(rows):
                path = folder / f"model_{i}.xml"
                write_sbml(path, sbml(i))
                if k == 0 and len(rows) >= LARGE_EXPORT:
                    size, seconds = path.stat().st_size, time.perf_counter() - start
                    _print_warning(f"{out}: {len(rows):,} SBML files of {size / 1e6:.2g} MB each: about "
                                   f"{len(rows) * size / 1e9:.2g} GB, {_duration(len(rows) * seconds)} (export one "
                                   "model with --index, or fewer with a smaller population)")
                progress.advance(task)

    if all_models:
        write_folder_atomic(out, write_all)
    else:
        write_sbml(out, sbml(index))
    console.print(f"wrote {len(rows)} SBML model(s) to {out} (lambda_max "
                  + ", ".join(f"{pop.lambda_max[i]:.4g}" for i in list(rows)[:5]) + (" ..." if len(rows) > 5 else "")
                  + " 1/h)", highlight=False, soft_wrap=True)


@command("import-sbml")
def import_sbml(
    sbml: Annotated[Path, typer.Argument(help="SBML file written by renaissance export-sbml.")],
    out: Annotated[Path, typer.Option(help="Folder for steady_state.csv and km.csv.")],
    model: ModelOption = ECOLI,
    force: Annotated[bool, typer.Option(help="Replace steady_state.csv and km.csv if --out holds them.")] = False,
) -> None:
    """Read an exported SBML model back: its steady state and Km, checked against the YAML model."""
    from ._files import write_folder_atomic
    from .interop.sbml import import_parameter_set
    from .model import compile_model, load_model
    from .stability.km import write_km_table
    from .steadystate import write_steady_state

    _claim(out, outputs=("steady_state.csv", "km.csv"), force=force, inputs=[sbml, model])
    cm = compile_model(load_model(model))
    imported = import_parameter_set(sbml, cm)

    def write_both(folder: Path) -> None:
        write_steady_state(imported.state, folder / "steady_state.csv")
        write_km_table(folder / "km.csv", imported.km[None], cm.km_names)

    write_folder_atomic(out, write_both)
    console.print(f"{sbml}: {len(imported.state.concentrations)} species, {len(imported.state.fluxes)} fluxes "
                  f"(rates of the file's kinetic laws, equal to the model's rate laws to {imported.law_error:.1e}); "
                  f"steady state to {imported.imbalance:.1e} of each species' turnover; "
                  f"wrote {out / 'steady_state.csv'}, {out / 'km.csv'}", highlight=False, soft_wrap=True)


@command("export-skimpy")
def export_skimpy(
    population: PopulationArgument,
    out: Annotated[Path, typer.Option(help="SKiMpy population file (.h5/.hdf5).")],
    valid_only: Annotated[bool, typer.Option(help="Only the valid models.")] = False,
    force: ForceOption = False,
) -> None:
    """Write a population in SKiMpy's layout (one dataset per parameter set; Km, Vmax, Keq)."""
    from .interop.skimpy import population_sets, write_skimpy_population
    from .parameterised import read_population

    _claim(out, force=force, inputs=[population])
    rows = np.flatnonzero(read_population(population).valid) if valid_only else None
    sets = population_sets(population, rows)
    write_skimpy_population(out, sets)
    console.print(f"wrote {len(sets.values)} parameter sets x {len(sets.names)} parameters to {out}")


@command("import-skimpy")
def import_skimpy(
    population: Annotated[Path, typer.Argument(help="SKiMpy population file (ParameterValuePopulation.save).")],
    out: Annotated[Path, typer.Option(help="Km table (CSV, mol/L) for renaissance stability --km.")],
    model: ModelOption = ECOLI,
    concentration_scale: Annotated[float, typer.Option(help="The file's concentration unit in 1/(mol/L).")] = 1e9,
    force: ForceOption = False,
) -> None:
    """Read the constants of a SKiMpy population (Km, inhibition and activation constants) into a
    Km table, checked against the model; the file's other names are counted, unknown ones listed."""
    from .interop.skimpy import import_constants, read_skimpy_population
    from .model import compile_model, load_model
    from .stability.km import write_km_table

    _claim(out, force=force, inputs=[population, model])
    sets = read_skimpy_population(population)
    kinetic = load_model(model)
    cm = compile_model(kinetic)
    required = [n for n, used in zip(cm.km_names, cm.km_used) if used]
    imported = import_constants(sets, kinetic, cm.km_names, required, concentration_scale, str(population))
    write_km_table(out, imported.km, imported.km_names)
    kinds = Counter(cm.km_kinds)
    console.print(f"wrote {len(imported.km)} parameter sets x {len(cm.km_names)} constants ("
                  + ", ".join(f"{kinds[k]} {k}" for k in ("km", "ki", "ka") if kinds[k]) + f") to {out}",
                  highlight=False, soft_wrap=True)
    if imported.known:
        console.print("also in the file, not imported: " + ", ".join(f"{n} {k}" for k, n in imported.known.items())
                      + " (Vmax are back-calculated from a steady state; Keq and concentrations belong to the "
                      "states the sets were made for)", highlight=False, soft_wrap=True)
    if imported.unplaced:
        _print_warning(f"{population}: {len(imported.unplaced)} names this model does not know: "
                       + ", ".join(imported.unplaced[:10]) + (" ..." if len(imported.unplaced) > 10 else ""))


@command("init")
def init_command(
    model: Annotated[Path, typer.Argument(help="SKiMpy YAML model.")],
    out: Annotated[Path, typer.Option(help="Folder for constraints.yaml, train.toml and bioreactor.yaml.")],
    force: Annotated[bool, typer.Option(help="Write into a folder that is not empty (same names are replaced).")] = False,
) -> None:
    """Write starter files for a model: commented constraints, a training config and a bioreactor medium.

    The growth reaction is guessed from the reaction ids ('biomass', 'growth') and named in a
    comment; every exchange/transport reaction gets placeholder bounds; the medium lists the
    constant extracellular species with their concentrations to fill in. Edit them, then make a
    steady state (renaissance steady-state) and train (renaissance train --config OUT/train.toml)."""
    from .model import compile_model, load_model
    from .starter import CONSTRAINTS, STATE, TRAIN, starter_files, write_starter

    cm = compile_model(load_model(model))
    starter = starter_files(cm, model, out)
    _claim(out, outputs=tuple(starter.texts), force=force, inputs=[model])
    paths = write_starter(starter, out, force=force)
    console.print(f"wrote {', '.join(str(p) for p in paths)}", soft_wrap=True)
    console.print(f"growth reaction: {starter.growth or 'none'} ({starter.growth_note}); {starter.exchanges} "
                  f"exchange/transport reactions bounded; {len(starter.medium)} medium species to fill in",
                  highlight=False, soft_wrap=True)
    console.print(f"next: renaissance steady-state --model {model} --constraints {out / CONSTRAINTS} --out "
                  f"{out / STATE}, then renaissance train --config {out / TRAIN}", highlight=False, soft_wrap=True)


@command("data")
def data_command(
    out: Annotated[Path, typer.Option(help="Folder to copy the shipped example files into.")] = Path("renaissance-data"),
    force: Annotated[bool, typer.Option(help="Overwrite files already in --out.")] = False,
) -> None:
    """Copy the shipped models, steady states, constraints and configurations into a folder."""
    from ._files import write_atomic

    shipped = sorted(p for p in ECOLI.parent.iterdir() if p.suffix in {".yaml", ".csv", ".toml", ".txt", ".md"})
    clashes = [p.name for p in shipped if (out / p.name).exists()]
    if clashes and not force:
        raise RenaissanceError(f"{out}: {', '.join(clashes[:3])}{' ...' if len(clashes) > 3 else ''} exist "
                               f"({len(clashes)} of the {len(shipped)} files); pass --force to overwrite")
    _claim(out, outputs=[p.name for p in shipped], force=force, inputs=shipped)
    out.mkdir(parents=True, exist_ok=True)
    for path in shipped:
        write_atomic(out / path.name, lambda tmp, source=path: Path(tmp).write_bytes(source.read_bytes()))
    console.print(f"copied {len(shipped)} files to {out}: " + ", ".join(p.name for p in shipped), soft_wrap=True)


#: the main job's commands, listed first by --help in this order; the others follow as defined
MAIN_JOB = ("train", "generate", "robustness", "bioreactor")
app.registered_commands.sort(key=lambda info: MAIN_JOB.index(info.callback.__name__)
                             if info.callback.__name__ in MAIN_JOB else len(MAIN_JOB))

if __name__ == "__main__":  # pragma: no cover
    app()
