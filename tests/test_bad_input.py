"""Bad input and faults of the file system: one line naming the file and the problem, exit
code 1, no traceback, nothing half-written, nothing replaced without --force."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from renaissance.cli import app
from renaissance.generator import load_settings, train
from renaissance.generator.population import generate_population
from renaissance.parameterised import read_population
from renaissance.generator.settings import with_overrides

from .conftest import DATA, FIXTURES
from .test_training import tiny_settings

runner = CliRunner()


def _fails(args: list[str], *expected: str) -> str:
    """Run the command; it must fail with one ``error:`` line holding every ``expected`` text."""
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, (OSError, ValueError))
    errors = [line for line in result.output.splitlines() if "error:" in line]
    assert len(errors) == 1 and errors[0].startswith("error: "), result.output
    text = " ".join(errors[0].split())
    for part in expected:
        assert part in text, (part, text)
    return text


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("bad_input") / "run"
    train(tiny_settings(generations=1), run_dir)
    return run_dir


def test_model_that_is_not_utf8(tmp_path):
    text = (DATA / "toy_model.yaml").read_bytes()
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(text[:100] + "é".encode("latin-1") + text[100:])
    _fails(["check-model", str(bad)], str(bad), "not UTF-8 text (byte 0xe9 at offset 100)")


@pytest.mark.parametrize("damage", ["truncated", "empty", "random"])
def test_damaged_checkpoint(tiny_run, tmp_path, damage):
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(tiny_run, run_dir)
    checkpoint = run_dir / "checkpoint.npz"
    data = checkpoint.read_bytes()
    checkpoint.write_bytes({"truncated": data[: len(data) // 2], "empty": b"",
                            "random": bytes(range(256)) * 8}[damage])
    why = {"truncated": "", "empty": "(empty file)", "random": "(not an npz archive)"}[damage]
    for args in (["train", "--out", str(run_dir), "--resume"], ["generate", str(run_dir), "--out", str(tmp_path / "p.h5")]):
        _fails(args, f"checkpoint {checkpoint} is damaged", why, "start again with --force or restore it")
    assert not (tmp_path / "p.h5").exists()


def test_output_folders_are_created_and_files_never_replaced_silently(tiny_run, tmp_path):
    out = tmp_path / "new" / "deeper" / "pop.h5"
    result = runner.invoke(app, ["generate", str(tiny_run), "--n", "5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert len(read_population(out)) == 5
    # an existing file (even one that is not HDF5) is refused, then replaced with --force
    text_file = tmp_path / "notes.txt"
    text_file.write_text("my notes")
    _fails(["generate", str(tiny_run), "--n", "5", "--out", str(text_file)], f"{text_file}: exists; use --force")
    assert text_file.read_text() == "my notes"
    assert runner.invoke(app, ["generate", str(tiny_run), "--n", "5", "--out", str(text_file), "--force"]).exit_code == 0
    assert len(read_population(text_file)) == 5

    km = tmp_path / "km.csv"
    names = (DATA / "ecoli_km_names.txt").read_text().split()
    km.write_text(",".join(names) + "\n" + ",".join(["1e-3"] * len(names)) + "\n")
    stability = ["stability", "--km", str(km), "--steady-state", str(FIXTURES / "steady_state.csv"), "--out"]
    target = tmp_path / "a" / "b" / "lambda.csv"
    assert runner.invoke(app, stability + [str(target)]).exit_code == 0
    assert target.read_text().startswith("lambda_max,valid,reason\n")
    _fails(stability + [str(target)], f"{target}: exists; use --force")
    _fails(stability + [str(tmp_path)], f"{tmp_path}: is a directory; give a file name")
    _fails(["generate", str(tiny_run), "--out", str(tmp_path)], f"{tmp_path}: is a directory")
    # a folder that cannot be created: its parent is a file
    _fails(stability + [str(text_file / "x.csv")], f"{text_file / 'x.csv'}: cannot create its folder")


def test_directory_outputs_that_are_files(tiny_run, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    _fails(["train", "--config", str(DATA / "toy_train.toml"), "--out", str(blocker), "--generations", "1"],
           str(blocker))
    generate_population(tiny_run, 3, tmp_path / "pop.h5")
    _fails(["robustness", str(tmp_path / "pop.h5"), "--all-models", "--max-models", "1", "--workers", "1",
            "--out", str(blocker)], str(blocker))
    assert blocker.read_text() == "x"


def test_read_only_target(tiny_run, tmp_path, monkeypatch):
    """Permission denied where the file would be written (emulated: the tests may run as root)."""
    import tempfile

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", kwargs.get("dir"))

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    out = tmp_path / "pop.h5"
    _fails(["generate", str(tiny_run), "--n", "5", "--out", str(out)], f"{out}: cannot write file", "Permission denied")
    assert list(tmp_path.iterdir()) == []


def test_disk_full_during_generate(tiny_run, tmp_path):
    """The disk fills up after 300 kB of the population: one error line, exit code 1 (not the
    crash of libhdf5 at exit), the temporary file removed. Run in a fresh interpreter, where a
    crash at exit would show."""
    script = textwrap.dedent(f"""
        import errno, sys
        import renaissance._files as files

        class Full:
            def __init__(self, raw):
                self.raw, self.written = raw, 0
            def write(self, data):
                self.written += memoryview(data).nbytes
                if self.written > 300_000:
                    raise OSError(errno.ENOSPC, "No space left on device")
                return self.raw.write(data)
            def __getattr__(self, name):
                return getattr(self.raw, name)
            def __enter__(self):
                return self
            def __exit__(self, *exc):
                self.raw.close()

        files.open = lambda path, mode: Full(open(path, mode))
        from renaissance.cli import app
        sys.argv = ["renaissance", "generate", {str(tiny_run)!r}, "--n", "2000", "--out", {str(tmp_path / "pop.h5")!r}]
        app()
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    assert f"error: {tmp_path / 'pop.h5'}: cannot write file (No space left on device); nothing was written" in \
        " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_steady_state_with_ids_of_another_model(tmp_path):
    state = tmp_path / "state.csv"
    state.write_text((FIXTURES / "steady_state.csv").read_text() + "foo_c,concentration,0.001\nFOO,flux,1.0\n")
    km = tmp_path / "km.csv"
    names = (DATA / "ecoli_km_names.txt").read_text().split()
    km.write_text(",".join(names) + "\n" + ",".join(["1e-3"] * len(names)) + "\n")
    _fails(["stability", "--km", str(km), "--steady-state", str(state), "--out", str(tmp_path / "l.csv")],
           str(state), "species ['foo_c']: not in the model (1 in all)")
    state.write_text((FIXTURES / "steady_state.csv").read_text() + "FOO,flux,1.0\n")
    _fails(["check-model", str(DATA / "ecoli_varma_curated.yaml"), "--steady-state", str(state)],
           "reactions ['FOO']: not in the model")
    assert not (tmp_path / "l.csv").exists()


def test_robustness_plots_species_of_the_model(tmp_path):
    """The toy model has none of the E. coli species of the paper's figure: the default plot
    shows the species last to return instead."""
    settings = with_overrides(load_settings(DATA / "toy_train.toml"), nes={"generations": 3})
    train(replace(settings, final_samples=20), tmp_path / "toy")
    generate_population(tmp_path / "toy", 4, tmp_path / "toy.h5")
    result = runner.invoke(app, ["robustness", str(tmp_path / "toy.h5"), "--all-models", "--workers", "1",
                                 "--perturbation", "0.05", "--out", str(tmp_path / "rob")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "rob" / "trajectories.png").stat().st_size > 0
    # a species the model does not have is refused before any model runs
    _fails(["robustness", str(tmp_path / "toy.h5"), "--all-models", "--out", str(tmp_path / "rob2"),
            "--plot", "nadh_c"], "species ['nadh_c']: not balanced species of the model")
    assert not (tmp_path / "rob2").exists()


def test_list_setting_given_as_text(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text((DATA / "toy_train.toml").read_text().replace("hidden = [64, 64]", 'hidden = "big"'))
    _fails(["train", "--config", str(config), "--out", str(tmp_path / "run")],
           str(config), "generator.hidden: must be a list of ints, got 'big'")
    assert not (tmp_path / "run").exists()


def test_settings_checks_of_every_command_are_one_line(tmp_path):
    """A value a settings class refuses (ValueError) ends as one error line in any command."""
    _fails(["sample", "--n", "0", "--out", str(tmp_path / "s.csv")], "n == 0, must be an int >= 1")
    _fails(["robustness", str(tmp_path / "missing.h5"), "--times", "34,24"], "times_min")
    assert not (tmp_path / "s.csv").exists()
