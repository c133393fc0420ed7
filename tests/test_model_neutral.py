"""The model is an argument everywhere and no E. coli default reaches another model: model-neutral
constraints, presets recognised by content, robustness groups and growth reaction from the model,
and no E. coli id in the code."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from renaissance.cli import app
from renaissance.dynamics.groups import missing_members, parse_groups, read_groups
from renaissance.dynamics.robustness import robustness_problem
from renaissance.errors import ConstraintsError
from renaissance.model import compile_model, load_model
from renaissance.shipped import (ECOLI_BIOREACTOR, ECOLI_CONSTRAINTS, ECOLI_MODEL, ECOLI_SUBSYSTEMS, KIN_VARMA_MODEL,
                                 ROBUSTNESS_GROUPS, model_fingerprint, model_presets)
from renaissance.steadystate import TFASettings, read_steady_state, validate_steady_state
from renaissance.steadystate.constraints import model_constraints
from renaissance.steadystate.table import model_for_state

from .conftest import DATA

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def _run(args: list) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, " ".join(result.output.split())


# --------------------------------------------------------------------------- presets


def test_presets_belong_to_the_shipped_ecoli_model_and_its_copies(ecoli, tmp_path):
    presets = model_presets(ecoli)
    assert (presets.constraints, presets.medium, presets.subsystems) == (ECOLI_CONSTRAINTS, ECOLI_BIOREACTOR,
                                                                         ECOLI_SUBSYSTEMS)
    assert presets.plot_species == ("nadh_c", "atp_c", "gln_L_c") and presets.enzyme == ("ACONTa", "ACONTb")
    assert presets.paper["cytosolic"] == (75.4, 93.1) and presets.subsystem == "Citric Acid Cycle"
    copy = tmp_path / "my_copy.yaml"  # renaissance data: same content, another path
    shutil.copy(ECOLI_MODEL, copy)
    assert model_presets(load_model(copy)) == presets
    edited = tmp_path / "edited.yaml"  # one reaction renamed: not the paper's model any more
    edited.write_text(ECOLI_MODEL.read_text().replace("PGI", "PGI_mine"))
    assert model_fingerprint(load_model(edited)) != model_fingerprint(ecoli)
    assert model_presets(load_model(edited)).constraints is None and not model_presets(load_model(edited)).paper
    assert model_presets(load_model(KIN_VARMA_MODEL)).constraints is None


def test_model_neutral_constraints(toy_cm, ecoli_cm):
    assert model_constraints(toy_cm) == (TFASettings(), None)
    settings, source = model_constraints(ecoli_cm)
    assert source == str(ECOLI_CONSTRAINTS) and settings.growth_reaction == "LMPD_biomass_c_1_420"


# --------------------------------------------------------------------------- commands on other models


def test_steady_state_sample_cycles_screen_on_another_model(tmp_path):
    """Without --constraints, another model gets model-neutral defaults, not the E. coli file."""
    code, text = _run(["steady-state", "--model", KIN_VARMA_MODEL, "--out", tmp_path / "ss.csv"])
    assert code == 0, text
    assert "note: no --constraints: model-neutral defaults (no growth bound" in text
    cm = compile_model(load_model(KIN_VARMA_MODEL))
    state = read_steady_state(tmp_path / "ss.csv")
    assert validate_steady_state(cm, state).worst_imbalance < 1e-9
    code, text = _run(["sample", "--model", DATA / "toy_model.yaml", "--n", 20, "--out", tmp_path / "s.csv"])
    assert code == 0 and "mass balance satisfied" in text and "dG/RT of" not in text  # nothing to watch
    code, text = _run(["cycles", "--model", KIN_VARMA_MODEL])
    assert code == 0 and "LMPD_biomass_c_1_420" not in text
    code, text = _run(["screen", "--model", DATA / "toy_model.yaml", "--n", 50, "--states", 20])
    assert code == 0 and "random Km sets valid" in text
    # the shipped E. coli model keeps its own constraints by default
    code, text = _run(["steady-state", "--out", tmp_path / "ecoli.csv"])
    assert code == 0 and "note:" not in text


def test_train_with_a_model_and_a_state(tmp_path):
    toy, state = DATA / "toy_model.yaml", DATA / "toy_steady_state.csv"
    code, text = _run(["train", "--model", toy, "--out", tmp_path / "run"])
    assert code == 1 and f"error: {toy}: --model needs --state SS.csv, a steady state of this model" in text
    code, text = _run(["train", "--model", toy, "--state", state, "--out", tmp_path / "run", "--generations", 2,
                       "--no-plots"])
    assert code == 0, text
    config = (tmp_path / "run" / "config.toml").read_text()
    assert f'model = "{toy}"' in config and f'steady_state = "{state}"' in config
    assert 'preset = "default"' in config and "generations = 2" in config and "hidden = [256, 512, 1024]" in config
    code, text = _run(["train", "--model", toy, "--state", "showcase", "--out", tmp_path / "run2"])
    assert code == 1 and "showcase: cannot read file" in text  # shipped state names are E. coli's


# --------------------------------------------------------------------------- robustness groups


def test_cofactor_groups_file_and_command_line(tmp_path):
    assert read_groups(ROBUSTNESS_GROUPS) == {"NADH": ("nadh_c",), "ATP": ("atp_c",), "NADPH": ("nadph_c",)}
    assert parse_groups("ATPPOOL=atp_c+adp_c+amp_c, NADH=nadh_c") == {"ATPPOOL": ("atp_c", "adp_c", "amp_c"),
                                                                      "NADH": ("nadh_c",)}
    assert parse_groups("") == {}
    assert missing_members({"A": ("x", "y"), "B": ("y",)}, ["y"]) == {"A": ["x"]}
    for spec, needle in [("NADH", "--groups 'NADH': expected NAME=species1+species2"),
                         ("A=x+", "--groups 'A=x+': expected NAME=species1+species2"),
                         ("all=x", "--groups: groups ['all']: reserved names")]:
        with pytest.raises(ConstraintsError, match=re.escape(needle)):
            parse_groups(spec)
    bad = tmp_path / "g.yaml"
    bad.write_text("groups: {NADH: nadh_c}\n")
    with pytest.raises(ConstraintsError, match=re.escape(f"{bad}: groups.NADH: must be a list of species ids")):
        parse_groups(str(bad))
    good = tmp_path / "mine.yml"
    good.write_text("groups:\n  redox: [nadh_c, nad_c]\n")
    assert parse_groups(str(good)) == {"redox": ("nadh_c", "nad_c")}


def test_groups_of_a_model_and_the_paper_only_for_ecoli(toy_cm, toy_state, ecoli_cm, fixture_state):
    toy = robustness_problem(model_for_state(toy_cm, toy_state), toy_state)
    assert set(toy.groups) == {"ATP", "cytosolic"} and toy.paper == {} and toy.growth is None
    assert toy.skipped == ("group NADH skipped: nadh_c not a balanced species of the model",
                           "group NADPH skipped: nadph_c not a balanced species of the model")
    mine = robustness_problem(model_for_state(toy_cm, toy_state), toy_state, groups={"glycolysis": ("g6p_c", "dhap_c")},
                              growth_reaction="LDH")
    assert set(mine.groups) == {"biomass", "glycolysis", "cytosolic"} and mine.skipped == ()
    ecoli = robustness_problem(model_for_state(ecoli_cm, fixture_state), fixture_state)
    assert set(ecoli.groups) == {"biomass", "NADH", "ATP", "NADPH", "cytosolic"} and ecoli.skipped == ()
    assert ecoli.paper["biomass"] == (100.0, None)


@pytest.fixture(scope="module")
def kin_varma_population(tmp_path_factory):
    """A kin_varma generator trained for 6 generations at a state of the shared constraints."""
    root = tmp_path_factory.mktemp("kv_groups")
    constraints = ROOT / "tests" / "fixtures" / "kin_varma" / "constraints.yaml"
    assert _run(["steady-state", "--model", KIN_VARMA_MODEL, "--constraints", constraints,
                 "--out", root / "ss.csv"])[0] == 0
    config = root / "train.toml"
    config.write_text(f'final_samples = 50\n[problem]\nmodel = "{KIN_VARMA_MODEL}"\nsteady_state = "{root / "ss.csv"}"\n'
                      "[generator]\nhidden = [32, 32]\n[nes]\ngenerations = 6\nmodels_per_child = 20\n")
    assert _run(["train", "--config", config, "--out", root / "run", "--no-plots"])[0] == 0
    assert _run(["generate", root / "run", "--n", 3, "--valid-only", "--out", root / "pop.h5"])[0] == 0
    return root / "pop.h5"


def test_robustness_command_groups_and_growth(kin_varma_population, tmp_path):
    base = ["robustness", kin_varma_population, "--workers", 1, "--perturbation", 0.05, "--plot", ""]
    code, text = _run(base + ["--out", tmp_path / "a", "--groups", "ATPPOOL=atp_c+adp_c+amp_c",
                              "--growth", "GLCptspp"])
    assert code == 0, text
    with open(tmp_path / "a" / "summary.csv", newline="") as handle:
        groups = {r["group"] for r in csv.DictReader(handle) if not r["group"].startswith("species:")}
    assert groups == {"biomass", "ATPPOOL", "cytosolic", "all"} and "paper" not in text
    code, text = _run(base + ["--out", tmp_path / "b", "--groups", "X=atp_c+nope_c"])
    assert code == 1 and "error: --groups: group X: nope_c not a balanced species of the model" in text
    medium = tmp_path / "medium.yaml"
    medium.write_text("biomass: {strain_1: PGK}\ninitial_medium: {}\n")
    code, text = _run(base + ["--out", tmp_path / "m", "--medium", medium, "--groups", ""])
    with open(tmp_path / "m" / "summary.csv", newline="") as handle:
        rows = {r["group"]: r for r in csv.DictReader(handle)}
    assert code == 0 and {"biomass", "cytosolic", "all"} == {g for g in rows if not g.startswith("species:")}
    assert "skipped" not in text  # --groups "": no cofactor groups asked for
    code, text = _run(base + ["--out", tmp_path / "c", "--growth", "NOPE"])
    assert code == 1 and "error: growth reaction 'NOPE': not a reaction of the model" in text
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()
    code, text = _run(["bioreactor", kin_varma_population, "--out", tmp_path / "d"])
    assert code == 1 and "no bioreactor set-up for this model; give --medium M.yaml (renaissance init" in text


# --------------------------------------------------------------------------- no E. coli id in the code

#: E. coli ids still in docstring examples of modules owned by another change (to be reworded there)
def test_no_ecoli_id_in_the_code(ecoli):
    """Every reaction and species id of the E. coli model (3+ characters, as a word or inside a
    longer name) and its subsystem names: none in src/**/*.py. E. coli values live in data files
    (ecoli_*.yaml: presets, constraints, medium)."""
    ids = {i for i in set(ecoli.reactions) | set(ecoli.species) if len(i) >= 3}
    with open(ECOLI_SUBSYSTEMS, newline="") as handle:
        ids |= {r["subsystem"] for r in csv.DictReader(handle) if " " in r["subsystem"]}
    words = re.compile(r"(?<![A-Za-z0-9])(" + "|".join(map(re.escape, sorted(ids, key=len, reverse=True)))
                       + r")(?![A-Za-z0-9])")
    found = set()
    for path in sorted((ROOT / "src" / "renaissance").rglob("*.py")):
        for match in words.finditer(path.read_text(encoding="utf-8")):
            found.add((str(path.relative_to(ROOT)), match[1]))
    assert found == set()
