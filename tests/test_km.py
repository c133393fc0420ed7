"""Km tables: alignment by name, and errors for unknown names and bad values."""

from __future__ import annotations

import numpy as np
import pytest

from renaissance.errors import ParameterFileError
from renaissance.stability.km import read_km_table, sample_log_uniform_km, write_km_table

from .conftest import FIXTURES


def test_reads_reference_table_in_any_column_order(ecoli_cm, fixture_km, tmp_path):
    names, km = fixture_km
    assert np.array_equal(read_km_table(FIXTURES / "km.csv", ecoli_cm.km_names), km)
    order = np.random.default_rng(0).permutation(len(names))
    path = tmp_path / "shuffled.csv"
    write_km_table(path, km[:, order], [names[i] for i in order])
    assert np.array_equal(read_km_table(path, ecoli_cm.km_names), km)


def test_optional_columns_may_be_absent(ecoli_cm, fixture_km, tmp_path):
    names, km = fixture_km
    used = [n for n, u in zip(ecoli_cm.km_names, ecoli_cm.km_used) if u]
    keep = [names.index(n) for n in used]
    path = tmp_path / "used.csv"
    write_km_table(path, km[:, keep], used)
    table = read_km_table(path, ecoli_cm.km_names, required=used)
    assert np.array_equal(table[:, ecoli_cm.km_used], km[:, ecoli_cm.km_used])
    with pytest.raises(ParameterFileError, match="missing column"):
        read_km_table(path, ecoli_cm.km_names)


@pytest.mark.parametrize(
    ("header", "row", "message"),
    [
        ("km_substrate_PGI,km_foo", "1e-3,1e-3", r"columns \['km_foo'\]: unknown Km names"),
        ("km_substrate_PGI", "nan", "row 1, 'km_substrate_PGI': value 'nan' must be a finite number > 0"),
        ("km_substrate_PGI", "0", "row 1, 'km_substrate_PGI': value '0' must be a finite number > 0"),
        ("km_substrate_PGI", "-1e-3", "row 1, 'km_substrate_PGI': value '-1e-3' must be"),
        ("km_substrate_PGI", "abc", "row 1, 'km_substrate_PGI': value 'abc' must be"),
    ],
)
def test_bad_km_tables(ecoli_cm, tmp_path, header, row, message):
    path = tmp_path / "km.csv"
    path.write_text(f"{header}\n{row}\n")
    with pytest.raises(ParameterFileError, match=f"^{path}: {message}"):
        read_km_table(path, ecoli_cm.km_names, required=[])


def test_log_uniform_sampling_is_seeded_and_bounded():
    a = sample_log_uniform_km(200, 384, seed=1)
    assert np.array_equal(a, sample_log_uniform_km(200, 384, seed=1))
    assert a.min() >= 1.3e-6 and a.max() <= 2e-2
    assert abs(np.log(a).mean() - np.log([1.3e-6, 2e-2]).mean()) < 0.05
