"""A Km CSV with a header and no rows: one clear error naming the file (library and command line)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from renaissance.cli import app
from renaissance.errors import ParameterFileError
from renaissance.stability.km import read_km_table

from .conftest import FIXTURES


@pytest.fixture
def header_only(tmp_path):
    path = tmp_path / "empty_km.csv"
    path.write_text((FIXTURES / "km.csv").read_text().splitlines()[0] + "\n")
    return path


def test_header_only_km_table_is_an_error_naming_the_file(header_only, ecoli_cm):
    with pytest.raises(ParameterFileError) as info:
        read_km_table(header_only, ecoli_cm.km_names)
    assert str(info.value) == f"{header_only}: no Km sets in empty_km.csv (a header and no rows; one row per set)"


def test_stability_command_with_header_only_km_table(header_only, tmp_path):
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(app, ["stability", "--km", str(header_only), "--steady-state",
                                      str(FIXTURES / "steady_state.csv"), "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert f"error: {header_only}: no Km sets in empty_km.csv" in result.output
    assert "Traceback" not in result.output and "concatenate" not in result.output
    assert not out.exists()
