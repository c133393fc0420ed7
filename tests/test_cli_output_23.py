"""Issue 23, items 13-15: what a new user reads and sees (README, progress, command output)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from renaissance import cli
from renaissance.cli import app
from renaissance.generator import load_settings, train
from renaissance.generator.population import generate_population
from renaissance.generator.settings import with_overrides
from renaissance.shipped import shipped_path

from .test_bad_input import _fails

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.fixture(scope="module")
def toy_population(tmp_path_factory) -> Path:
    """A trained toy generator's population of 12 models."""
    root = tmp_path_factory.mktemp("toy_output")
    settings = with_overrides(load_settings(shipped_path("toy_train.toml")), nes={"generations": 2, "monitor_models": 0})
    train(settings, root / "run")
    generate_population(root / "run", 12, root / "pop.h5", seed=0)
    return root / "pop.h5"


def test_training_lines_name_the_state_and_count_generations_with_time_left(tmp_path):
    """Item 14: a header naming the model and state; ``gen i/N`` and the time left per line."""
    result = runner.invoke(app, ["train", "--config", str(shipped_path("toy_train.toml")), "--generations", "2",
                                 "--out", str(tmp_path / "run"), "--no-plots"])
    assert result.exit_code == 0, result.output
    assert re.search(r"model .*toy_model\.yaml, state .*toy_steady_state\.csv; preset default, seed 0, 2 generations",
                     result.output)
    lines = [line for line in result.output.splitlines() if line.startswith("gen ")]
    assert [line.split()[1] for line in lines] == ["1/2", "2/2"]
    assert all(re.search(r"~\d+ s left$", line) for line in lines)
    assert lines[-1].endswith("~0 s left")


def test_python_training_logs_every_generation(tmp_path, caplog):
    """Item 14: train() from Python says where it is (logging at INFO)."""
    settings = with_overrides(load_settings(shipped_path("toy_train.toml")), nes={"generations": 2, "monitor_models": 0})
    with caplog.at_level(logging.INFO, logger="renaissance.generator.training"):
        train(settings, tmp_path / "run")
    assert [r.getMessage().split(": ")[1].split(",")[0] for r in caplog.records] == ["gen 1/2", "gen 2/2"]


def test_generate_prints_no_blank_line_first(toy_population, tmp_path):
    """Item 15: the progress display is off when not on a terminal, so no blank line is left."""
    result = runner.invoke(app, ["generate", str(toy_population.parent / "run"), "--n", "5",
                                 "--out", str(tmp_path / "p.h5")])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("wrote ")


def test_data_names_the_files_it_would_overwrite(tmp_path):
    """Item 15: one line with the names, not a Python list."""
    assert runner.invoke(app, ["data", "--out", str(tmp_path)]).exit_code == 0
    text = _fails(["data", "--out", str(tmp_path)], str(tmp_path), "exist (", "pass --force to overwrite")
    assert "[" not in text and "'" not in text


def test_train_state_names_the_shipped_states():
    """Item 15: ``train --state foo`` lists the shipped names."""
    _fails(["train", "--state", "foo", "--generations", "1"], "--state foo", "showcase, measured, fixture")


def test_help_lists_the_main_job_first_without_cutting_descriptions():
    """Item 15: the main job's commands first, in order; no description cut with an ellipsis."""
    result = runner.invoke(app, ["--help"], terminal_width=80)
    commands = result.output.split("Commands:")[1]
    names = [line.split()[0] for line in commands.splitlines() if line.startswith("  ") and not line.startswith("   ")]
    assert names[:4] == ["train", "generate", "robustness", "bioreactor"] and len(names) == 19
    assert "…" not in result.output and "..." not in commands


def test_export_of_many_sbml_files_says_its_size_first(toy_population, tmp_path, monkeypatch):
    """Item 14: a large --all export says how much it will write before it does."""
    monkeypatch.setattr(cli, "LARGE_EXPORT", 2)
    result = runner.invoke(app, ["export-sbml", str(toy_population), "--all", "--out", str(tmp_path / "sbml")])
    assert result.exit_code == 0, result.output
    assert re.search(r"warning: .*sbml: \d+ SBML files of [\d.]+ MB each: about [\d.e-]+ GB", " ".join(result.output.split()))


def test_readme_main_job_is_the_makefile_and_the_python_snippet_runs_anywhere():
    """Item 13: the README's four commands are the Makefile's; the snippet needs no checkout path
    and can run again after ``make demo`` (its own folder, overwrite=True)."""
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    demo = [line.strip().removeprefix("$(BIN)/") for line in makefile.split("\ndemo:")[1].split("\n\n")[0].splitlines()[1:]]
    assert len(demo) == 4
    flat = " ".join(readme.split())
    for command in demo:
        assert f"`{command}`" in flat, command
    snippet = readme.split("From Python:")[1].split("```")[1]
    assert "src/renaissance/data" not in snippet and "overwrite=True" in snippet and '"runs/ecoli"' not in snippet
