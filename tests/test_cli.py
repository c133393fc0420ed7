"""The command line, run in-process with typer's CliRunner on real files."""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from renaissance import __version__
from renaissance.cli import app

from .conftest import DATA, FIXTURES

runner = CliRunner()


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_check_model_summary(ecoli_path):
    result = runner.invoke(app, ["check-model", str(ecoli_path), "--steady-state", str(FIXTURES / "steady_state.csv")])
    assert result.exit_code == 0, result.output
    assert "reduced Jacobian size" in result.output and " 85 " in result.output
    assert "384 / 358" in result.output and "valid" in result.output


def test_check_model_error_is_one_clear_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((DATA / "ecoli_varma_curated.yaml").read_text().replace("class: Convenience", "class: Conveniense", 1))
    result = runner.invoke(app, ["check-model", str(bad)])
    assert result.exit_code == 1
    assert "error:" in result.output and "reaction 'ACALD': unknown mechanism class 'Conveniense'" in result.output
    assert "Traceback" not in result.output


def test_stability_writes_one_row_per_set(tmp_path, fixture_lambda):
    out = tmp_path / "out.csv"
    result = runner.invoke(app, [
        "stability", "--km", str(FIXTURES / "km.csv"), "--steady-state", str(FIXTURES / "steady_state.csv"),
        "--out", str(out), "--threshold", "5000"])
    assert result.exit_code == 0, result.output
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 30 and set(rows[0]) == {"lambda_max", "valid", "reason"}
    lam = np.array([float(r["lambda_max"]) for r in rows])
    np.testing.assert_allclose(lam, fixture_lambda, rtol=1e-6)
    assert [r["valid"] == "true" for r in rows] == list(lam <= 5000)
    assert f"{int((lam <= 5000).sum())} of 30 Km sets valid" in result.output


@pytest.mark.parametrize("bad", ["unknown", "nan"])
def test_stability_bad_km_file(tmp_path, bad):
    km = tmp_path / "km.csv"
    text = (FIXTURES / "km.csv").read_text().splitlines()
    if bad == "unknown":
        text[0] = text[0].replace("km_substrate1_ACALD", "km_substrate9_ACALD")
    else:
        text[1] = "nan," + text[1].split(",", 1)[1]
    km.write_text("\n".join(text) + "\n")
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["stability", "--km", str(km), "--steady-state", str(FIXTURES / "steady_state.csv"),
                                 "--out", str(out)])
    assert result.exit_code == 1 and "error:" in result.output and str(km) in result.output
    assert not out.exists()  # nothing half-written


def test_steady_state_command_writes_a_valid_state(tmp_path, ecoli_cm):
    from renaissance.steadystate import read_steady_state, validate_steady_state

    out = tmp_path / "ss.csv"
    result = runner.invoke(app, ["steady-state", "--out", str(out), "--seed", "3"])
    assert result.exit_code == 0, result.output
    report = validate_steady_state(ecoli_cm, read_steady_state(out))
    assert report.min_margin >= 0.12 * 0.99 and report.worst_imbalance_relative < 1e-9


def test_screen_counts_valid_random_km_sets():
    result = runner.invoke(app, ["screen", "--n", "300", "--seed", "1"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "reduced Jacobian 85x85" in text
    counts = {mode: re.search(rf"{mode}: (\d+) of 300 random Km sets valid", text) for mode in ("decide", "exact")}
    assert all(counts.values()), text
    assert counts["decide"].group(1) == counts["exact"].group(1)  # same decisions, two methods


def test_sample_command_writes_loadable_reproducible_states(tmp_path, ecoli_cm):
    from renaissance.steadystate import validate_steady_state
    from renaissance.steadystate.samples_io import read_samples

    outs = [tmp_path / "a.csv", tmp_path / "b.csv"]
    for out in outs:
        result = runner.invoke(app, ["sample", "--n", "40", "--out", str(out), "--seed", "2"])
        assert result.exit_code == 0, result.output
    assert outs[0].read_bytes() == outs[1].read_bytes()
    text = " ".join(result.output.split())
    assert "40 states" in text and "dG/RT of ATPS4rpp" in text
    assert "energy-generating cycles run by the sampled direction patterns: none" in text
    states = read_samples(outs[0])
    assert len(states) == 40
    for state in states[:5]:
        validate_steady_state(ecoli_cm, state)


def test_cycles_command_names_energy_generating_cycles():
    result = runner.invoke(app, ["cycles", "--max-cycles", "3", "--max-loops", "2"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "energy-generating cycles" in text and "CBL1tonex" in text
    assert "blocked by CBL1tonex (fixed_directions +1)" in text


def _words(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("name", sorted(cmd.name or cmd.callback.__name__ for cmd in app.registered_commands))
def test_help_shows_every_text_verbatim(name):
    """Each option's help and the command's description appear word for word: nothing (e.g. a
    bracketed "[generator]") is eaten as markup, no gap is left where a word was, nothing is cut."""
    import typer.main

    command = typer.main.get_command(app).commands[name]
    result = runner.invoke(app, [name, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    shown = _words(result.output)
    texts = [param.help for param in command.params if getattr(param, "help", None)] + [command.help]
    for text in texts:
        assert _words(text) in shown, f"{name}: {text!r} not shown as written"
    assert not re.search(r"\(\s*[,)]|,\s*[,)]", shown), shown  # the gaps left by eaten words


def test_main_help_names_the_main_job():
    result = runner.invoke(app, ["--help"], terminal_width=200)
    text = _words(result.output)
    assert "The main job, `make demo`, trains" in text and "demo" not in text.replace("make demo", "")
    # the short help of every command ends on a whole word, not inside "E. coli"
    assert not re.search(r"\bE\.\s*$", result.output, flags=re.M)
