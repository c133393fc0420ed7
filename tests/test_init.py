"""renaissance init: starter constraints, training configuration and bioreactor medium for any model."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from renaissance.cli import app
from renaissance.dynamics.bioreactor import read_medium, read_report
from renaissance.errors import MediumError, RenaissanceError
from renaissance.generator.settings import load_settings
from renaissance.growth import growth_candidates, guess_growth_reaction, resolve_growth
from renaissance.model import compile_model, load_model
from renaissance.starter import STARTER_EXCHANGE_BOUND, exchange_reactions, starter_settings
from renaissance.steadystate import load_constraints
from renaissance.steadystate.conflicts import growth_limit

from .conftest import DATA

KIN_VARMA = DATA / "kin_varma.yaml"
runner = CliRunner()


@pytest.fixture(scope="module")
def kin_varma_cm():
    return compile_model(load_model(KIN_VARMA))


@pytest.fixture(scope="module")
def started(tmp_path_factory):
    out = tmp_path_factory.mktemp("init") / "kv"
    result = runner.invoke(app, ["init", str(KIN_VARMA), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, " ".join(result.output.split())


def test_init_writes_three_files_and_says_what_it_guessed(started):
    out, text = started
    assert sorted(p.name for p in out.iterdir()) == ["bioreactor.yaml", "constraints.yaml", "train.toml"]
    assert ("growth reaction: LMPD_biomass_c_17_462 (guessed: the only reaction whose id contains 'biomass' or "
            "'growth'); 15 exchange/transport reactions bounded; 15 medium species to fill in") in text
    assert f"renaissance steady-state --model {KIN_VARMA} --constraints {out / 'constraints.yaml'}" in text


def test_starter_constraints(started, kin_varma_cm):
    out, _ = started
    text = (out / "constraints.yaml").read_text()
    # the guess is named in a comment beside it; every exchange says what its forward direction does
    assert "reaction: LMPD_biomass_c_17_462   # guessed: the only reaction whose id contains 'biomass'" in text
    assert "GLCptspp: [-10.0, 10.0]   # forward takes up glc_D_e" in text
    assert "FORtppi: [-10.0, 10.0]   # forward secretes for_e" in text
    settings = load_constraints(out / "constraints.yaml", kin_varma_cm)  # every id checked against the model
    assert settings == starter_settings(kin_varma_cm)
    assert settings.growth_reaction == "LMPD_biomass_c_17_462" and settings.growth_scaling == 1.0
    exchanges = exchange_reactions(kin_varma_cm)
    assert set(settings.flux_bounds) == set(exchanges) and len(exchanges) == 15
    # reactions that only move protons (proton pumps, the biomass reaction) are not exchanges
    assert not {"ATPS4rpp", "NADH16pp", "LMPD_biomass_c_17_462"} & set(exchanges)
    assert all(b == (-STARTER_EXCHANGE_BOUND, STARTER_EXCHANGE_BOUND) for b in settings.flux_bounds.values())
    # the placeholder growth bound: half the largest growth these bounds allow (flux balance)
    top, _ = growth_limit(kin_varma_cm, settings)
    assert settings.min_growth == pytest.approx(0.5 * top, rel=0.05) and 0 < settings.min_growth < top


def test_starter_training_config_and_medium(started, kin_varma_cm, tmp_path):
    out, _ = started
    (out / "steady_state.csv").write_text("")  # made later with renaissance steady-state
    settings = load_settings(out / "train.toml")
    assert Path(settings.problem.model) == KIN_VARMA.resolve()
    assert settings.problem.steady_state == str((out / "steady_state.csv").resolve())
    assert settings.problem.constraints == str((out / "constraints.yaml").resolve())
    (out / "steady_state.csv").unlink()
    medium = out / "bioreactor.yaml"
    with pytest.raises(MediumError) as info:  # every concentration left to fill in: one error naming them
        read_medium(medium, kin_varma_cm)
    message = str(info.value)
    assert message.startswith(f"{medium}: initial_medium ['ac_e: None', 'acald_e: None',")
    assert "'succ_e: None']: concentrations must be finite and > 0 (mol/L); fill them in" in message
    filled = tmp_path / "medium.yaml"
    filled.write_text(medium.read_text().replace(": null", ": 1.0e-3"))
    reactor = read_medium(filled, kin_varma_cm)
    assert reactor.growth_reaction == "LMPD_biomass_c_17_462" and reactor.growth_scaling == 1.0
    assert len(reactor.medium) == 15 and reactor.extracellular == "e" and reactor.constant == ()
    assert read_report(filled, kin_varma_cm, reactor) == {s: s for s in reactor.medium}


def test_a_model_without_growth_reaction(tmp_path):
    out = tmp_path / "toy"
    result = runner.invoke(app, ["init", str(DATA / "toy_model.yaml"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "growth reaction: none (no reaction id contains 'biomass' or 'growth': name your growth reaction)" in \
        " ".join(result.output.split())
    text = (out / "constraints.yaml").read_text()
    assert "# growth:\n#   reaction: REACTION" in text
    cm = compile_model(load_model(DATA / "toy_model.yaml"))
    assert load_constraints(out / "constraints.yaml", cm).growth_reaction is None
    assert "LACt: [0.0, 10.0]   # forward secretes lac_e (irreversible)" in text
    with pytest.raises(MediumError, match="biomass: missing: name the growth reaction"):
        read_medium(_filled(out / "bioreactor.yaml", tmp_path), cm)


def _filled(medium: Path, folder: Path) -> Path:
    path = folder / "filled.yaml"
    path.write_text(medium.read_text().replace(": null", ": 1.0e-3"))
    return path


def test_an_existing_folder_is_kept_unless_force(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep")
    result = runner.invoke(app, ["init", str(KIN_VARMA), "--out", str(out)])
    assert result.exit_code == 1
    assert f"error: {out}: not empty (notes.txt); use --force to write the starter files into it" in \
        " ".join(result.output.split())
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    result = runner.invoke(app, ["init", str(KIN_VARMA), "--out", str(out), "--force"])
    assert result.exit_code == 0, result.output
    assert (out / "notes.txt").read_text() == "keep" and (out / "train.toml").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary file left
    (tmp_path / "file").write_text("x")
    result = runner.invoke(app, ["init", str(KIN_VARMA), "--out", str(tmp_path / "file")])
    assert result.exit_code == 1 and "is a file; give a folder" in result.output


def test_a_bad_model_is_one_error_and_nothing_is_written(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(KIN_VARMA.read_text().replace("class: ReversibleMichaelisMenten", "class: MM2", 1))
    result = runner.invoke(app, ["init", str(bad), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1 and "unknown mechanism class 'MM2'" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_growth_reaction_guess_and_precedence(tmp_path):
    reactions = ["PGI", "Growth_rate", "EX_glc"]
    assert growth_candidates(reactions + ["BIOMASS_core"]) == ["Growth_rate", "BIOMASS_core"]
    assert guess_growth_reaction(reactions) == "Growth_rate" and guess_growth_reaction(["PGI"]) is None
    with pytest.raises(RenaissanceError, match=r"2 reactions contain 'biomass' or 'growth' \(\['Growth_rate', 'bm_"
                                               r"biomass'\]\); name one"):
        guess_growth_reaction(reactions + ["bm_biomass"])
    constraints = tmp_path / "c.yaml"
    constraints.write_text("growth: {reaction: PGI}\n")
    assert resolve_growth(reactions, constraints=constraints) == "PGI"
    assert resolve_growth(reactions, given="EX_glc", constraints=constraints) == "EX_glc"
    medium = tmp_path / "m.yaml"
    medium.write_text("biomass: {strain_1: EX_glc}\ninitial_medium: {}\n")
    assert resolve_growth(reactions, constraints=constraints, medium=medium) == "PGI"  # constraints first
    assert resolve_growth(reactions, medium=medium) == "EX_glc"
    constraints.write_text("growth: {reaction: NOPE}\n")
    with pytest.raises(RenaissanceError, match=f"{constraints}: growth.reaction: 'NOPE': not a reaction"):
        resolve_growth(reactions, constraints=constraints)
    medium.write_text("biomass: {strain_1: NOPE}\n")
    with pytest.raises(RenaissanceError, match=f"{medium}: biomass: 'NOPE': not a reaction"):
        resolve_growth(reactions, medium=medium)
