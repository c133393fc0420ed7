# Developer entry points. `make demo` and `make test` create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test bench docs wheel-check clean

venv: $(STAMP)

# torch is pinned and installed first so pip takes the CPU wheel on local disk
# instead of resolving a multi-GB CUDA build for the bare `torch` requirement.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[test]"
	touch $(STAMP)

# the main job: train the E. coli generator (50 NES generations), emit a population, test the
# robustness of 200 of its valid models (beside the paper's table), grow 40 in the bioreactor and score them
# against the measured fermentation (and say what ends growth in the 2 best)
demo: venv
	$(BIN)/renaissance train --out runs/ecoli --force
	$(BIN)/renaissance generate runs/ecoli --n 10000 --out runs/ecoli/population.h5 --force
	$(BIN)/renaissance robustness runs/ecoli/population.h5 --out runs/ecoli/robustness --max-models 200 --force
	$(BIN)/renaissance bioreactor runs/ecoli/population.h5 --out runs/ecoli/bioreactor --max-models 40 --explain 2 --force

test: venv
	$(BIN)/python -m pytest

# the documentation site (warnings are errors); tests/test_docs.py builds it too
docs: venv
	$(BIN)/mkdocs build --strict --site-dir site

# build the wheel, install it into a clean venv, run `renaissance --version` and the quick start
wheel-check:
	scripts/check_wheel.sh $(PYTHON)

bench: venv
	$(BIN)/python benchmarks/bench_stability.py
	$(BIN)/python benchmarks/bench_generate.py
	$(BIN)/python benchmarks/bench_dynamics.py
	$(BIN)/python benchmarks/bench_train.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache runs
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
