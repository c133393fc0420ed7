"""Shared fixtures: the shipped models and the reference E. coli fixtures."""

from __future__ import annotations

import csv
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest

from renaissance.model import compile_model, load_model, model_from_dict
from renaissance.stability import prepare_stability
from renaissance.steadystate import read_steady_state

DATA = Path(str(files("renaissance") / "data"))
#: numbers computed by the reference implementation (SKiMpy as used by RENAISSANCE)
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ecoli"


@pytest.fixture(scope="session")
def ecoli_path() -> Path:
    return DATA / "ecoli_varma_curated.yaml"


@pytest.fixture(scope="session")
def ecoli(ecoli_path):
    return load_model(ecoli_path)


@pytest.fixture(scope="session")
def ecoli_cm(ecoli):
    return compile_model(ecoli)


@pytest.fixture(scope="session")
def all_classes_cm():
    """One reaction of every mechanism class and every modifier (tests/all_classes.py)."""
    from .all_classes import all_classes_dict

    return compile_model(model_from_dict(all_classes_dict(), source="all_classes"))


@pytest.fixture(scope="session")
def toy_path() -> Path:
    return DATA / "toy_model.yaml"


@pytest.fixture(scope="session")
def toy(toy_path):
    return load_model(toy_path)


@pytest.fixture(scope="session")
def toy_cm(toy):
    return compile_model(toy)


@pytest.fixture(scope="session")
def toy_state():
    return read_steady_state(DATA / "toy_steady_state.csv")


@pytest.fixture(scope="session")
def fixture_state():
    return read_steady_state(FIXTURES / "steady_state.csv")


@pytest.fixture(scope="session")
def fixture_km():
    """(names, km (30, 384) mol/L) from the reference fixtures."""
    with open(FIXTURES / "km.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], np.array(rows[1:], dtype=float)


@pytest.fixture(scope="session")
def fixture_lambda():
    return np.loadtxt(FIXTURES / "lambda_max.csv", delimiter=",", skiprows=1, usecols=0)


@pytest.fixture(scope="session")
def ecoli_problem(ecoli_cm, fixture_state):
    return prepare_stability(ecoli_cm, fixture_state)
