"""Declared settings (one rule per field, one validator) and the one settings-file reader."""

from __future__ import annotations

import dataclasses

import pytest

from renaissance._declare import Declared, declared_rules
from renaissance.analysis.landscape import LandscapeSettings
from renaissance.analysis.search import SearchSettings
from renaissance.config import build, read_config
from renaissance.dynamics.bioreactor import ReactorSettings, read_medium
from renaissance.dynamics.integrate import IntegrationSettings
from renaissance.dynamics.robustness import RobustnessSettings
from renaissance.errors import ConfigError, ConstraintsError, MediumError, RenaissanceError, SettingsError
from renaissance.generator.settings import (
    GeneratorSettings,
    NESSettings,
    RobustnessRewardSettings,
    TrainSettings,
    load_settings,
)
from renaissance.parameterised.settings import ProblemSettings
from renaissance.settings import PERTURBATION, RETURN_TIME_MIN, RETURN_TOLERANCE, UnitSettings
from renaissance.steadystate.constraints import load_constraints
from renaissance.steadystate.settings import TFASettings

from .conftest import DATA

SETTINGS = (UnitSettings, GeneratorSettings, NESSettings, RobustnessRewardSettings, TrainSettings, ProblemSettings,
            TFASettings, IntegrationSettings, RobustnessSettings, ReactorSettings, LandscapeSettings, SearchSettings)


@pytest.mark.parametrize("cls", SETTINGS, ids=lambda c: c.__name__)
def test_every_settings_class_declares_its_rules(cls):
    assert issubclass(cls, Declared) and declared_rules(cls)
    assert "__post_init__" not in vars(cls)  # one shared validator


@pytest.mark.parametrize("cls, values, message", [
    (UnitSettings, {"density": 0}, "units.density == 0, must be a finite number in (0.0, inf]"),
    (NESSettings, {"shaping": "rank"}, "nes.shaping == 'rank', must be one of ['centered_rank', 'zscore']"),
    (NESSettings, {"target_lambda": -1.0}, "nes.target_lambda == -1.0, must be < 0 and <= nes.threshold"),
    (GeneratorSettings, {"ln_ki_bounds": (1.0, 0.0)}, "generator.ln_ki_bounds == (1.0, 0.0), must be finite"),
    (GeneratorSettings, {"hidden": (8, 0)}, "generator.hidden[] == 0, must be an int >= 1"),
    (RobustnessSettings, {"times_min": (34.0, 24.0)}, "robustness.times_min == (34.0, 24.0), must be in increasing"),
    (SearchSettings, {"stop_incidence": 0.0}, "search.stop_incidence == 0.0, must be a finite number in (0.0, 1.0]"),
    (LandscapeSettings, {"perturbation": 1.0}, "landscape.perturbation == 1.0, must be a finite number in [0.0, 1.0)"),
    (IntegrationSettings, {"escape_fold": 0.5}, "integration.escape_fold == 0.5, must be 0 (off) or > 1"),
    (TFASettings, {"fixed_directions": {"R": 2}}, "TFASettings.fixed_directions['R'] == 2, must be one of [-1, 1]"),
    (TrainSettings, {"problem": ProblemSettings(model="m.yaml", steady_state="s.csv"), "seed": -1},
     "seed == -1, must be an int >= 0"),
])
def test_a_broken_rule_names_table_field_value_and_rule(cls, values, message):
    with pytest.raises(SettingsError) as info:
        cls(**values)
    assert str(info.value).startswith(message)
    assert isinstance(info.value, ValueError) and isinstance(info.value, RenaissanceError)


def test_replace_validates_and_normalises():
    settings = load_settings()
    assert dataclasses.replace(settings, seed=settings.seed + 3).seed == settings.seed + 3
    with pytest.raises(SettingsError, match="seed == -1"):
        dataclasses.replace(settings, seed=-1)
    with pytest.raises(SettingsError, match="nes.population == 5, must be even"):
        dataclasses.replace(settings.nes, population=5)
    assert dataclasses.replace(GeneratorSettings(), ln_km_bounds=[-5, 0]).ln_km_bounds == (-5.0, 0.0)
    assert RobustnessSettings(times_min=[24]).times_min == (24.0,)


def test_return_check_is_declared_once():
    for cls in (RobustnessRewardSettings, LandscapeSettings, RobustnessSettings):
        rules = declared_rules(cls)
        assert rules["perturbation"] is PERTURBATION.rule and rules["tolerance"] is RETURN_TOLERANCE.rule
    assert declared_rules(LandscapeSettings)["time_min"] is RETURN_TIME_MIN.rule
    assert (RobustnessRewardSettings().time_min, LandscapeSettings().time_min) == (24.0, 34.0)


def test_one_reader_for_toml_and_yaml(tmp_path):
    toml, yaml_file, other = tmp_path / "a.toml", tmp_path / "a.yaml", tmp_path / "a.cfg"
    toml.write_text("seed = 1\n[nes]\ngenerations = 2\n")
    yaml_file.write_text("seed: 1\nnes: {generations: 2}\n")
    other.write_text("seed: 1\n")
    assert read_config(toml) == read_config(yaml_file) == {"seed": 1, "nes": {"generations": 2}}
    assert read_config(other, default="yaml") == {"seed": 1}
    (tmp_path / "empty.yaml").write_text("")
    assert read_config(tmp_path / "empty.yaml") == {}
    for name, text, problem in [("dup.yaml", "a: 1\na: 2\n", "duplicate key 'a'"),
                                ("bad.yaml", "a: [1\n", "malformed YAML"),
                                ("list.yaml", "- 1\n", "top level: expected a mapping of settings, got list"),
                                ("bad.toml", "a = \n", "TOML")]:
        (tmp_path / name).write_text(text)
        with pytest.raises(ConfigError, match=problem) as info:
            read_config(tmp_path / name)
        assert str(info.value).startswith(f"{tmp_path / name}: ")


def test_build_names_unknown_keys_and_broken_rules():
    with pytest.raises(ConfigError, match=r"^f.toml: \[units\] keys \['densiti'\]: unknown; known: "):
        build(UnitSettings, {"densiti": 1.0}, "units", "f.toml")
    with pytest.raises(ConfigError, match=r"^f.toml: settings: units.density == -1.0, must be"):
        build(UnitSettings, {"density": -1.0}, "units", "f.toml")
    with pytest.raises(ConfigError, match=r"^f.toml: \[units\]: must be a table of settings, got 5"):
        build(UnitSettings, 5, "units", "f.toml")


def test_file_errors_have_the_type_of_their_file(tmp_path, ecoli_cm):
    bad = tmp_path / "medium.yaml"
    bad.write_text("initial_medium: {glc_D_e: 1e-3\n")
    with pytest.raises(MediumError, match=f"{bad}: malformed YAML") as info:
        read_medium(bad, ecoli_cm)
    assert not isinstance(info.value, ConstraintsError) and isinstance(info.value, ConfigError)
    bad.write_text("reactor_volume: -1\n")
    with pytest.raises(MediumError, match=f"{bad}: settings: reactor.volume_l == -1e-15, must be"):
        read_medium(bad, ecoli_cm, growth_reaction="LMPD_biomass_c_1_420")
    bad.write_text("reactor_volume: lots\n")
    with pytest.raises(MediumError, match=f"{bad}: reactor_volume: must be a number"):
        read_medium(bad, ecoli_cm, growth_reaction="LMPD_biomass_c_1_420")
    constraints = tmp_path / "c.yaml"
    constraints.write_text("growth: {reaction: R}\ngrowth: {reaction: S}\n")
    with pytest.raises(ConstraintsError, match=f"{constraints}: duplicate key 'growth'"):
        load_constraints(constraints)
    assert read_medium(DATA / "ecoli_bioreactor.yaml", ecoli_cm).growth_scaling == 5e5
