"""Training settings: frozen dataclasses, named presets and a TOML file layer.

A training configuration is a TOML file with five tables; every key is optional::

    preset = "default"            # or "paper": the published algorithm and values
    seed = 0

    [problem]                     # paths relative to this file
    model = "ecoli_varma_curated.yaml"
    steady_state = "ecoli_steady_state.csv"   # or: states = "states.csv", state_index = 12
    fixed_km = "measured_km.csv"              # optional (see renaissance.parameterised.fixed)
    constraints = "constraints.yaml"          # optional: the state's constraints (growth reaction)

    [units]                       # renaissance.settings.UnitSettings
    concentration_scale = 1e9

    [generator]                   # GeneratorSettings
    km_bounds = [1.3e-6, 2e-2]    # mol/L, or ln_km_bounds = [-25.0, 3.0] (the reference code)
    ki_bounds = [1e-6, 1e-1]      # inhibition constants (ki_*, k_inhibition_*); default: km_bounds
    ka_bounds = [1e-6, 1e-1]      # activation constants (k_activation_*); default: km_bounds

    [nes]                         # NESSettings
    generations = 50
    target_lambda = -10.0         # optional: train towards lambda_max <= -10 1/h

    [robustness]                  # RobustnessRewardSettings (optional reward term)
    models_per_child = 2

Values in the tables override the preset's. An unknown table or key is an error naming it and
the file.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from .._declare import NON_NEGATIVE, POSITIVE, Choice, Declared, Each, Float, Int, OrNone, Text, setting
from .._files import write_text_atomic
from ..config import ConfigError, build, km_bounds_to_ln, read_config, refuse_unknown, toml_text
from ..errors import SettingsError, located
from ..parameterised.settings import ProblemSettings, problem_from_table, problem_to_table
from ..settings import LN_KM_RANGE, PERTURBATION, RETURN_TIME_MIN, RETURN_TOLERANCE, SEED, THRESHOLD, UnitSettings
from ..shipped import shipped_path

MAPPINGS = ("tanh", "batch_minmax")
SHAPINGS = ("zscore", "centered_rank")
DTYPES = ("float32", "bfloat16")


@dataclass(frozen=True, kw_only=True)
class GeneratorSettings(Declared, table="generator"):
    """The generator network and the map from its outputs to ln Km.

    Network: z ~ N(0, I_latent) -> dense layers ``hidden`` (tanh, dropout during training) ->
    one pre-activation a_j per free Km. ``tanh`` mapping:
    ln Km_j = lo + (hi - lo) (1 + tanh(a_j + offset_gain * o_j)) / 2, with o a learnable
    per-output offset (0 at start); ``batch_minmax`` (the reference code): tanh(a) rescaled by
    the min and max over each child's whole batch, then mapped to [lo, hi].

    Attributes
    ----------
    latent_dim : int              noise dimension (reference: 99)
    hidden : tuple of int         hidden layer widths (reference: 256, 512, 1024)
    dropout : float               dropout probability after each hidden layer, training only
    mapping : {"tanh", "batch_minmax"}
    offset_gain : float           gain of the per-output offset (0 disables it)
    ln_km_bounds : (float, float) ln(Km / (mol/L)) range (paper: ln 1.3e-6 .. ln 2e-2)
    ln_ki_bounds, ln_ka_bounds : (float, float) or None
                                  ranges of the inhibition (``ki_*``, ``k_inhibition_*``) and
                                  activation (``k_activation_*``) constants; None: ``ln_km_bounds``
    dtype : {"float32", "bfloat16"}  compute type of the dense layers (bfloat16: ~2x faster
                                  generation on CPUs with AMX/AVX512-BF16; outputs stay float32)
    """

    latent_dim: int = setting(99, Int())
    hidden: tuple[int, ...] = setting((256, 512, 1024), Each(Int(), "layer widths"))
    dropout: float = setting(0.5, Float(0.0, 1.0, high_open=True))
    mapping: str = setting("tanh", Choice(MAPPINGS))
    offset_gain: float = setting(50.0, NON_NEGATIVE)
    ln_km_bounds: tuple[float, float] = LN_KM_RANGE.field()
    ln_ki_bounds: tuple[float, float] | None = setting(None, OrNone(LN_KM_RANGE.rule))
    ln_ka_bounds: tuple[float, float] | None = setting(None, OrNone(LN_KM_RANGE.rule))
    dtype: str = setting("float32", Choice(DTYPES))

    def kind_bounds(self, kind: str) -> tuple[float, float]:
        """ln(K / (mol/L)) range of the constants of ``kind`` (``km``, ``ki`` or ``ka``)."""
        return getattr(self, f"ln_{kind}_bounds") or self.ln_km_bounds

    def output_bounds(self, kinds) -> tuple[np.ndarray, np.ndarray]:
        """(low, high), each (n,), ln(mol/L), for constants of the given ``kinds`` (n,)."""
        bounds = np.array([self.kind_bounds(kind) for kind in kinds], dtype=float).reshape(-1, 2)
        return bounds[:, 0], bounds[:, 1]


@dataclass(frozen=True, kw_only=True)
class NESSettings(Declared, table="nes"):
    """Natural Evolution Strategies on the generator's weights.

    Per generation: ``population`` children theta + sigma * eps_i (``antithetic``: eps_i and
    -eps_i in pairs), each scored on ``models_per_child`` generated Km sets by ``reward``;
    rewards shaped (``zscore`` or ``centered_rank``); update
    theta <- theta + learning_rate / (population * sigma) * sum_i eps_i * r_i;
    then learning_rate <- learning_rate * (1 - lr_decay).

    ``reward`` is a name in :data:`renaissance.stability.rewards.REWARDS` or
    ``"package.module:function"``. ``common_latent``: all children see the same latent noise.
    ``threshold`` (1/h): a model is valid when lambda_max <= threshold. ``target_lambda`` (1/h,
    optional, <= threshold): the speed training aims at; the reward counts a model as a success
    when lambda_max <= target_lambda (validity, the logged incidences and populations still use
    ``threshold``). ``monitor_models``: after each update, that many fresh models of the generator
    itself (no dropout, their own seed, so the training draws are unchanged) give the logged
    ``generator_incidence`` and ``generator_lambda_q50``; 0 disables it.
    """

    generations: int = setting(50, Int(0))
    population: int = setting(20, Int(2))
    # sigma and learning_rate are at most 1 (presets: 0.002 / 1e-4, paper 0.01 / 1e-3): the weights
    # start within +-0.13 (Glorot), so a perturbation or a step of 1 per weight saturates every
    # tanh and leaves nothing to search; 1e300 overflowed the weights to NaN
    sigma: float = setting(0.002, Float(0.0, 1.0, low_open=True))
    models_per_child: int = setting(100, Int())
    learning_rate: float = setting(1e-4, Float(0.0, 1.0))
    lr_decay: float = setting(0.03, Float(0.0, 1.0, high_open=True))
    antithetic: bool = True
    common_latent: bool = True
    shaping: str = setting("centered_rank", Choice(SHAPINGS))
    reward: str = setting("rank_incidence", Text("a reward name or 'module:function'"))
    threshold: float = THRESHOLD.field()
    target_lambda: float | None = setting(None, OrNone(Float()))
    monitor_models: int = setting(50, Int(0))

    def _check(self) -> None:
        """Antithetic pairs need an even population; a target is at least as fast as the threshold."""
        if self.antithetic and self.population % 2:
            raise SettingsError(f"nes.population == {self.population}, must be even with antithetic = true")
        if self.target_lambda is not None and not (self.target_lambda < 0 and self.target_lambda <= self.threshold):
            raise SettingsError(f"nes.target_lambda == {self.target_lambda!r}, must be < 0 and <= nes.threshold "
                                f"({self.threshold:g} 1/h): a target is a speed at least as fast as the threshold")

    @property
    def reward_threshold(self) -> float:
        """The lambda_max (1/h) a model must reach to count as a success in the reward."""
        return self.threshold if self.target_lambda is None else self.target_lambda


@dataclass(frozen=True, kw_only=True)
class RobustnessRewardSettings(Declared, table="robustness"):
    """Optional reward term for nonlinear robustness (beyond the paper); off when ``models_per_child`` = 0.

    Each generation, the first ``models_per_child`` valid models of every child are perturbed
    (every balanced species uniform in x*(1 +- ``perturbation``), pools kept; model j of every
    child gets the same perturbation) and integrated (:mod:`renaissance.dynamics.robustness`). A
    model scores s = (g + f) / 2 at ``time_min`` minutes: g = 1 when the growth flux is back within
    ``tolerance`` of its steady-state value, f = the fraction of the balanced species back within
    ``tolerance``; a run that escapes or fails scores 0. A child's robustness score is the mean s
    of its tested models times its incidence (0 without a valid model), and ``weight`` x that
    score is added to its reward. ``growth_reaction``: default the ``growth.reaction`` of
    ``problem.constraints``, else the only reaction whose id contains 'biomass' or 'growth'
    (:mod:`renaissance.growth`); a model without a growth reaction cannot use this term.
    """

    models_per_child: int = setting(0, Int(0))
    weight: float = setting(1.0, POSITIVE)
    perturbation: float = PERTURBATION.field()
    time_min: float = RETURN_TIME_MIN.field(24.0)
    tolerance: float = RETURN_TOLERANCE.field()
    growth_reaction: str | None = setting(None, OrNone(Text("a reaction id")))

    @property
    def enabled(self) -> bool:
        return self.models_per_child > 0


@dataclass(frozen=True, kw_only=True)
class TrainSettings(Declared):
    """Everything a training run needs; written to ``RUN_DIR/config.toml``."""

    problem: ProblemSettings
    generator: GeneratorSettings = field(default_factory=GeneratorSettings)
    nes: NESSettings = field(default_factory=NESSettings)
    robustness: RobustnessRewardSettings = field(default_factory=RobustnessRewardSettings)
    preset: str = "default"
    seed: int = SEED.field()
    final_samples: int = setting(1000, Int(0))


#: named presets: overrides of the dataclass defaults per table
PRESETS: dict[str, dict[str, dict]] = {
    # tuned here: large search radius for the output means (offset x gain), small one for the
    # weights, a rank reward that has signal while every model is unstable, plain NES updates
    "default": {"generator": {}, "nes": {}},
    # the published algorithm and values (DESIGN.md section 2, items 4-5)
    "paper": {
        "generator": {"mapping": "batch_minmax", "offset_gain": 0.0},
        "nes": {"sigma": 0.01, "learning_rate": 1e-3, "lr_decay": 0.05, "antithetic": False,
                "common_latent": False, "shaping": "zscore", "reward": "incidence"},
    },
}

_TABLES = {"problem", "units", "generator", "nes", "robustness"}
_TOP = {"preset", "seed", "final_samples"}


#: E. coli steady states shipped with the package, by name (``renaissance train --state NAME``)
SHIPPED_STATES = {
    "showcase": "ecoli_culture_state.csv",  # the batch culture the paper reproduces, all 120 Keq (the default)
    "measured": "ecoli_showcase_state.csv",  # the 0.3 showcase: measured concentrations, not the culture's medium
    "fixture": "ecoli_steady_state.csv",  # the reference implementation's fixture state (uM pools)
}


def default_config_path() -> Path:
    """The shipped E. coli training configuration."""
    return shipped_path("ecoli_train.toml")


def shipped_state(name_or_path: str) -> Path:
    """The path of a shipped steady state by name (:data:`SHIPPED_STATES`), else ``name_or_path``."""
    return shipped_path(SHIPPED_STATES[name_or_path]) if name_or_path in SHIPPED_STATES else Path(name_or_path)




def settings_from_dict(data: dict, base_dir: str | os.PathLike = ".", source: str | None = None) -> TrainSettings:
    """Build :class:`TrainSettings` from a TOML-shaped dict; relative paths resolve in ``base_dir``."""
    refuse_unknown(data, _TABLES | _TOP, "", source)
    preset = data.get("preset", "default")
    if preset not in PRESETS:
        raise ConfigError(located(source, f"preset '{preset}'", f"unknown; known: {sorted(PRESETS)}"))
    try:
        generator_table = dict(data.get("generator", {}))
        km_bounds_to_ln(generator_table, source, kinds=("km", "ki", "ka"))
        generator = build(GeneratorSettings, {**PRESETS[preset]["generator"], **generator_table}, "generator", source)
        nes = build(NESSettings, {**PRESETS[preset]["nes"], **data.get("nes", {})}, "nes", source)
        robustness = build(RobustnessRewardSettings, data.get("robustness", {}), "robustness", source)
        units = build(UnitSettings, data.get("units", {}), "units", source)
        problem = problem_from_table(data.get("problem", {}), units, base_dir, source)
        top = {k: data[k] for k in ("seed", "final_samples") if k in data}
        return build(TrainSettings, dict(problem=problem, generator=generator, nes=nes, robustness=robustness,
                                         preset=preset, **top), "", source)
    except (TypeError, ValueError) as exc:
        raise ConfigError(located(source, "settings", str(exc))) from None


def load_settings(path: str | os.PathLike | None = None) -> TrainSettings:
    """Read a training configuration (default: the shipped E. coli one)."""
    path = Path(path) if path is not None else default_config_path()
    return settings_from_dict(read_config(path), path.parent, str(path))


def configured_settings(config: str | os.PathLike | None = None, *, preset: str | None = None,
                        seed: int | None = None, generations: int | None = None, target_lambda: float | None = None,
                        reward: str | None = None, robustness_models: int | None = None,
                        state: str | None = None, model: str | os.PathLike | None = None,
                        constraints: str | os.PathLike | None = None) -> TrainSettings:
    """The settings of ``config`` with the command line's overrides (``None``: keep the file's value).

    Without ``config``: the shipped E. coli configuration, or, when ``model`` is given, the
    model-neutral defaults (the dataclass defaults) for ``model`` at ``state`` (required then).
    A ``preset`` replaces the file's ``[generator]`` (but the bounds) and ``[nes]`` tables;
    ``state`` replaces the file's ``steady_state`` / ``states`` + ``state_index``: a steady-state
    CSV, or, without ``model``, a shipped E. coli state's name (:data:`SHIPPED_STATES`);
    ``model`` and ``constraints`` replace the file's ``problem.model`` / ``problem.constraints``.
    """
    if model is not None and config is None:
        if state is None:
            raise ConfigError(f"{model}: --model needs --state SS.csv, a steady state of this model "
                              "(renaissance steady-state --model MODEL --constraints C.yaml --out SS.csv)")
        data = {"problem": {"model": str(model), "steady_state": str(state)}, "generator": {}, "nes": {},
                "robustness": {}}
    else:
        data = settings_to_dict(load_settings(config))
        if state is not None:
            path = shipped_state(state) if model is None else Path(state)
            if not path.is_file():
                names = f"a shipped state ({', '.join(SHIPPED_STATES)}) or " if model is None else ""
                raise ConfigError(f"--state {state}: not {names}a steady-state file (id,kind,value CSV)")
            data["problem"] = {**{k: v for k, v in data["problem"].items() if k not in ("states", "state_index")},
                               "steady_state": str(path)}
    for key, value in (("preset", preset), ("seed", seed)):
        if value is not None:
            data[key] = value
    if preset is not None:
        data["generator"] = {k: v for k, v in data["generator"].items() if k.endswith("_bounds")}
        data["nes"] = {}
    for key, value in (("generations", generations), ("target_lambda", target_lambda), ("reward", reward)):
        if value is not None:
            data["nes"][key] = value
    if robustness_models is not None:
        data["robustness"]["models_per_child"] = robustness_models
    for key, value in (("model", model), ("constraints", constraints)):
        if value is not None:
            data["problem"][key] = str(value)
    return settings_from_dict(data, source=str(config or model or "shipped config"))


def settings_to_dict(settings: TrainSettings) -> dict:
    """The TOML-shaped dict of ``settings`` (absolute paths, every value explicit)."""
    return {
        "preset": settings.preset, "seed": settings.seed, "final_samples": settings.final_samples,
        "problem": problem_to_table(settings.problem), "units": asdict(settings.problem.units),
        "generator": asdict(settings.generator), "nes": asdict(settings.nes),
        "robustness": asdict(settings.robustness),
    }


def save_settings(settings: TrainSettings, path: str | os.PathLike) -> None:
    """Write ``settings`` as TOML (atomic); :func:`load_settings` reads it back equal."""
    write_text_atomic(path, toml_text(settings_to_dict(settings)))


def with_overrides(settings: TrainSettings, **tables) -> TrainSettings:
    """A copy with fields replaced per table, e.g. ``with_overrides(s, nes={"generations": 5})``."""
    changes = {}
    for name, values in tables.items():
        if values:
            changes[name] = replace(getattr(settings, name), **values)
    return replace(settings, **changes)
