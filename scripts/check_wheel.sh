#!/usr/bin/env bash
# Build the wheel, install it into a clean virtual environment and run the quick start there.
# Usage: scripts/check_wheel.sh [PYTHON]   (run from the repository root; `make wheel-check`)
set -euo pipefail
PYTHON=${1:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PYTHON" -m venv "$work/build-env"
"$work/build-env/bin/pip" install -q build
"$work/build-env/bin/python" -m build --wheel --outdir "$work/dist" . > "$work/build.log"
"$PYTHON" -m venv "$work/venv"
"$work/venv/bin/pip" install -q torch==2.13.0   # the CPU build on local disk, not a CUDA build
"$work/venv/bin/pip" install -q "$work"/dist/*.whl
cd "$work"
"$work/venv/bin/renaissance" --version
# the quick start of README.md and docs/index.md
"$work/venv/bin/renaissance" train --out runs/ecoli
"$work/venv/bin/renaissance" generate runs/ecoli --n 10000 --out runs/ecoli/population.h5
"$work/venv/bin/renaissance" robustness runs/ecoli/population.h5 --out runs/ecoli/robustness --max-models 200
"$work/venv/bin/renaissance" bioreactor runs/ecoli/population.h5 --out runs/ecoli/bioreactor --max-models 10
test -s runs/ecoli/population.h5 && test -s runs/ecoli/robustness/summary.csv && test -s runs/ecoli/bioreactor/bioreactor.png
echo "wheel check passed: $(ls "$work"/dist)"
