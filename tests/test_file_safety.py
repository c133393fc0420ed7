"""File safety of every command that writes (issue 23): no output replaced without --force, never
an input of the command (not even with --force), one run per output at a time (a lock naming the
other run), and what a killed run left behind removed by the next run into the same output."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

import renaissance._files as files
from renaissance._files import OutputLock, claim_output
from renaissance.cli import app
from renaissance.dynamics.robustness import OUTPUTS as ROBUSTNESS_OUTPUTS
from renaissance.generator import save_settings, train
from renaissance.generator.population import generate_population
from renaissance.generator.training import OUTPUTS as TRAIN_OUTPUTS
from renaissance.parameterised import read_population

from .conftest import DATA, FIXTURES
from .test_bad_input import _fails
from .test_training import tiny_settings

runner = CliRunner()
TOY = DATA / "toy_model.yaml"
TOY_TRAIN = DATA / "toy_train.toml"


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A small generator trained at a fast state (every model valid after 20 generations)."""
    run_dir = tmp_path_factory.mktemp("file_safety") / "run"
    settings = tiny_settings(generations=20)
    train(replace(settings, problem=replace(settings.problem, steady_state=str(FIXTURES / "fast_state.csv"))), run_dir)
    return run_dir


@pytest.fixture(scope="module")
def population(run) -> Path:
    """Three valid models of ``run``."""
    path = run.parent / "pop.h5"
    generate_population(run, 3, path, valid_only=True)
    return path


@pytest.fixture(scope="module")
def states(tmp_path_factory) -> Path:
    """Three sampled states of the toy model."""
    path = tmp_path_factory.mktemp("states") / "states.csv"
    result = runner.invoke(app, ["sample", "--n", "3", "--model", str(TOY), "--out", str(path)])
    assert result.exit_code == 0, result.output
    return path


def _snapshot(path: Path) -> dict[str, bytes] | bytes | None:
    """The bytes of a file, or of every file below a folder (by relative path); None if absent."""
    if path.is_dir():
        return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}
    return path.read_bytes() if path.exists() else None


def _refused(args: list, victim: Path, *expected: str) -> str:
    """The command fails with one error line holding ``expected`` and leaves ``victim`` as it was."""
    before = _snapshot(victim)
    text = _fails([str(a) for a in args], *expected)
    assert _snapshot(victim) == before, victim
    return text


def _own_file(path: Path, text: str = "my own results\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# ----- 1. no output replaced without --force, never an input ---------------------------------

def _file_commands(out: Path, run: Path, population: Path) -> dict[str, list]:
    return {
        "steady-state": ["steady-state", "--model", TOY, "--out", out],
        "sample": ["sample", "--n", "3", "--model", TOY, "--out", out],
        "stability": ["stability", "--km", FIXTURES / "km.csv", "--steady-state", FIXTURES / "steady_state.csv",
                      "--out", out],
        "generate": ["generate", run, "--n", "2", "--out", out],
        "export-sbml": ["export-sbml", population, "--out", out],
        "export-skimpy": ["export-skimpy", population, "--out", out],
        "import-skimpy": ["import-skimpy", population, "--out", out],
    }


@pytest.mark.parametrize("name", ["steady-state", "sample", "stability", "generate", "export-sbml", "export-skimpy",
                                  "import-skimpy"])
def test_an_existing_file_is_not_replaced_without_force(name, run, population, tmp_path):
    victim = _own_file(tmp_path / "results.txt")
    _refused(_file_commands(victim, run, population)[name], victim, f"{victim}: exists; use --force to replace it")


def _copy(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    (shutil.copytree if source.is_dir() else shutil.copyfile)(source, target)
    return target


def test_export_skimpy_never_writes_over_its_own_input(population, tmp_path):
    victim = _copy(population, tmp_path / "victim.h5")
    (tmp_path / "sub").mkdir()
    link = tmp_path / "link.h5"
    link.symlink_to(victim)
    for given, out in ((victim, victim), (victim, tmp_path / "sub" / ".." / "victim.h5"), (link, victim)):
        for force in ([], ["--force"]):
            _refused(["export-skimpy", given, "--out", out, *force], victim, f"{out}: is an input of this command",
                     "write the output elsewhere")


def test_sample_never_writes_over_its_constraints(tmp_path):
    constraints = _copy(DATA / "ecoli_constraints.yaml", tmp_path / "data" / "ecoli_constraints.yaml")
    _refused(["sample", "--n", "3", "--out", constraints], constraints, f"{constraints}: exists; use --force")
    _refused(["sample", "--n", "3", "--constraints", constraints, "--out", constraints, "--force"], constraints,
             f"{constraints}: is an input of this command")


def _own_input_cases(tmp: Path, run: Path, population: Path) -> dict[str, tuple[list, Path, str]]:
    """{command: (args with --force, the input it would write over, the expected message)}."""
    model = _copy(TOY, tmp / "model.yaml")
    km = _copy(FIXTURES / "km.csv", tmp / "km.csv")
    pop = _copy(population, tmp / "pop.h5")
    run_copy = _copy(run, tmp / "run")
    case = _copy(population, tmp / "study" / "baseline" / "population.h5")
    starter = _copy(TOY, tmp / "start" / "constraints.yaml")
    return {
        "steady-state": (["steady-state", "--model", model, "--out", model], model, f"{model}: is an input"),
        "stability": (["stability", "--km", km, "--steady-state", FIXTURES / "steady_state.csv", "--out", km], km,
                      f"{km}: is an input"),
        "generate": (["generate", run_copy, "--out", run_copy / "checkpoint.npz"], run_copy,
                     f"{run_copy / 'checkpoint.npz'}: is an input"),
        "export-sbml": (["export-sbml", pop, "--out", pop], pop, f"{pop}: is an input"),
        "import-skimpy": (["import-skimpy", pop, "--model", TOY, "--out", pop], pop, f"{pop}: is an input"),
        "train": (["train", "--config", run_copy / "config.toml", "--out", run_copy, "--no-plots"], run_copy,
                  f"{run_copy / 'config.toml'}: is an input"),
        "km-integration": (["km-integration", "--config", TOY_TRAIN, "--truth", case, "--out", tmp / "study"], case,
                           f"{tmp / 'study' / 'baseline'}: holds an input"),
        "init": (["init", starter, "--out", starter.parent], starter, f"{starter}: is an input"),
        "data": (["data", "--out", DATA], DATA, f"{DATA / 'NOTICE.md'}: is an input"),
    }


@pytest.mark.parametrize("name", ["steady-state", "stability", "generate", "export-sbml", "import-skimpy", "train",
                                  "km-integration", "init", "data"])
def test_no_command_writes_over_its_own_input_even_with_force(name, run, population, tmp_path):
    args, victim, expected = _own_input_cases(tmp_path, run, population)[name]
    _refused(args + ["--force"], victim, expected, "write the output elsewhere")


def test_landscape_never_removes_the_states_it_reads(states, tmp_path):
    inside = _copy(states, tmp_path / "land" / "check_inside" / "states.csv")
    _refused(["landscape", "--states", inside, "--model", TOY, "--out", tmp_path / "land", "--force"], inside,
             f"{inside.parent}: holds an input of this command ({inside})")


# ----- folders: refused when they hold the command's outputs, unless --force or --resume -----

def _folder_cases(out: Path, population: Path, states: Path) -> dict[str, tuple[list, list[str], str]]:
    """{command: (args, an output of an earlier run in ``out``, the remedy the message names)}."""
    resume_or_force = "use --resume to continue it or --force to replace it"
    return {
        "train": (["train", "--config", TOY_TRAIN, "--out", out], ["config.toml", "history.csv"], resume_or_force),
        "robustness": (["robustness", population, "--out", out], ["runs.csv"], resume_or_force),
        "bioreactor": (["bioreactor", population, "--out", out], ["timecourses.csv"], resume_or_force),
        "landscape": (["landscape", "--states", states, "--model", TOY, "--out", out], ["landscape.csv"],
                      resume_or_force),
        "landscape-check": (["landscape-check", out], ["check_inside/landscape.csv"], resume_or_force),
        "km-integration": (["km-integration", "--config", TOY_TRAIN, "--truth", population, "--out", out],
                           ["baseline/run/config.toml"], resume_or_force),
        "import-sbml": (["import-sbml", out / "model.xml", "--out", out], ["km.csv"], "use --force to replace them"),
        "export-sbml --all": (["export-sbml", population, "--all", "--out", out], ["model_7.xml"],
                              "use --force to replace them"),
        "init": (["init", TOY, "--out", out], ["train.toml"], "use --force to replace them"),
        "data": (["data", "--out", out], ["toy_model.yaml"], "pass --force to overwrite"),
    }


@pytest.mark.parametrize("name", ["train", "robustness", "bioreactor", "landscape", "landscape-check", "km-integration",
                                  "import-sbml", "export-sbml --all", "init", "data"])
def test_a_folder_holding_outputs_of_an_earlier_run_is_refused(name, population, states, tmp_path):
    out = tmp_path / "out"
    args, earlier, remedy = _folder_cases(out, population, states)[name]
    for relative in earlier:
        _own_file(out / relative)
    _own_file(out / "notes.txt")
    _refused(args, out, str(out), earlier[0].split("/")[0], remedy)


def test_train_keeps_a_users_config_and_history_without_a_checkpoint(tmp_path):
    out = tmp_path / "run"
    for name in ("config.toml", "history.csv"):
        _own_file(out / name)
    _refused(["train", "--config", TOY_TRAIN, "--out", out], out,
             f"{out}: holds a training run (config.toml, history.csv); use --resume to continue it or --force")


def test_force_and_resume_together_are_refused(tmp_path):
    out = _own_file(tmp_path / "land" / "check_inside" / "landscape.csv").parent.parent
    _refused(["landscape-check", out, "--force", "--resume"], out, f"{out}: --force starts afresh and --resume "
             "continues; give one of them")


def test_force_removes_only_the_outputs_of_the_earlier_run(tmp_path):
    out = tmp_path / "rob"
    for name in ("runs.csv", "runs.settings.json", "summary.csv", "notes.txt", "mine/runs.csv"):
        _own_file(out / name)
    with claim_output(out, outputs=ROBUSTNESS_OUTPUTS, resume=True):  # --resume keeps them
        assert (out / "runs.csv").exists()
    with claim_output(out, outputs=ROBUSTNESS_OUTPUTS, force=True):
        assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == ["mine", "mine/runs.csv", "notes.txt"]


# ----- export-sbml --all and import-sbml: all written or nothing ------------------------------

def test_export_sbml_creates_the_parent_folder(population, tmp_path):
    out = tmp_path / "new" / "deeper" / "model.xml"
    result = runner.invoke(app, ["export-sbml", str(population), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("<?xml")


def test_export_sbml_all_on_a_full_disk_writes_nothing(population, tmp_path, monkeypatch):
    import renaissance.interop.sbml as sbml

    written = []

    def third_fails(path, text):
        written.append(path)
        if len(written) < 3:
            return files.write_text_atomic(path, text)

        def full(tmp):
            raise OSError(errno.ENOSPC, "No space left on device")

        return files.write_atomic(path, full)

    monkeypatch.setattr(sbml, "write_text_atomic", third_fails)
    out = tmp_path / "all"
    _fails(["export-sbml", str(population), "--all", "--out", str(out)],
           f"{out / 'model_2.xml'}: cannot write file (No space left on device); nothing was written")
    assert len(written) == 3 and list(tmp_path.iterdir()) == []


def test_export_sbml_all_force_replaces_only_model_files(population, tmp_path):
    out = tmp_path / "all"
    _own_file(out / "model_7.xml")
    _own_file(out / "notes.txt")
    result = runner.invoke(app, ["export-sbml", str(population), "--all", "--out", str(out), "--force"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["model_0.xml", "model_1.xml", "model_2.xml", "notes.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


# ----- 3. two runs, one output ------------------------------------------------------------------

def _hold_lock(path: Path) -> subprocess.Popen:
    """Another process holding the output lock of ``path`` (as a running command would)."""
    script = ("import sys, time\nfrom renaissance._files import OutputLock\nOutputLock(sys.argv[1]).acquire()\n"
              "print('held', flush=True)\ntime.sleep(120)\n")
    holder = subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_run_into_the_same_output_is_refused_naming_the_first(run, tmp_path):
    out = tmp_path / "pop.h5"
    holder = _hold_lock(out)
    try:
        _refused(["generate", run, "--n", "2", "--out", out], out, f"{out}: in use by another run (pid {holder.pid}, "
                 "started ", f"lock {tmp_path / 'pop.h5.lock'}", "wait for it to end")
    finally:
        os.kill(holder.pid, signal.SIGKILL)  # its lock file stays behind, unlocked
        holder.wait()
    assert (tmp_path / "pop.h5.lock").exists()
    result = runner.invoke(app, ["generate", str(run), "--n", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert len(read_population(out)) == 2 and sorted(p.name for p in tmp_path.iterdir()) == ["pop.h5"]


def test_train_refuses_a_folder_another_run_holds(tmp_path):
    out = tmp_path / "run"
    with OutputLock(out):
        _refused(["train", "--config", TOY_TRAIN, "--out", out], out,
                 f"{out}: in use by another run (pid {os.getpid()}, started ")
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_without_fcntl_nothing_is_locked_and_nothing_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "fcntl", None)  # as on Windows
    with OutputLock(tmp_path / "x"), claim_output(tmp_path / "x"):
        pass
    victim = _own_file(tmp_path / "x")
    _refused(["sample", "--n", "3", "--model", TOY, "--out", victim], victim, f"{victim}: exists")


# ----- 6 and 12. what a killed run left behind ---------------------------------------------------

def test_a_killed_runs_temporary_files_are_removed_by_the_next_run(run, tmp_path):
    leftover = _own_file(tmp_path / ".pop.h5.k3j_x9q2")
    kept = [_own_file(tmp_path / name) for name in (".pop.h5.notours", ".other.h5.k3j_x9q2", "pop.h5.k3j_x9q2")]
    result = runner.invoke(app, ["generate", str(run), "--n", "2", "--out", str(tmp_path / "pop.h5")])
    assert result.exit_code == 0, result.output
    assert not leftover.exists() and all(p.exists() for p in kept)


def test_temporaries_in_an_output_folder_are_removed_only_for_its_outputs(tmp_path):
    out = tmp_path / "run"
    leftovers = [_own_file(out / name) for name in (".history.csv.abcd1234", "seed_0/.checkpoint.npz.abcd_123",
                                                    "figures/.km.png.zz99zz99")]
    leftovers.append(_own_file(tmp_path / ".run.abcd1234" / "model_0.xml").parent)  # a folder written atomically
    kept = [_own_file(out / name) for name in (".notes.txt.abcd1234", ".history.csv.toolong99", "config.toml")]
    with claim_output(out, outputs=TRAIN_OUTPUTS, resume=True):
        pass
    assert not any(p.exists() for p in leftovers) and all(p.exists() for p in kept)


def test_resume_of_a_run_killed_before_its_first_checkpoint_starts_afresh(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    save_settings(tiny_settings(generations=1), out / "config.toml")
    config = (out / "config.toml").read_bytes()
    result = runner.invoke(app, ["train", "--out", str(out), "--resume", "--no-plots"])
    assert result.exit_code == 0, result.output
    assert f"{out}: no checkpoint.npz (the run stopped before its first generation); starting afresh from its " \
           "config.toml" in " ".join(result.output.split())
    assert (out / "checkpoint.npz").exists() and (out / "config.toml").read_bytes() == config
