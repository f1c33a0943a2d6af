#!/usr/bin/env bash
# Set up, lint, fuzz the image reader, the manifest parser and the capabilities layer
# briefly, then run the whole test suite. Under CI=true a missing prerequisite fails the
# run (tests/conftest.py) instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --tests
python3 -m ruff check src tests benchmarks scripts fuzz
for target in image_reader manifest capabilities; do
    # this checkout's src/, whichever checkout an installed wasmforge points at
    PYTHONPATH=src python3 "fuzz/fuzz_$target.py" -runs=2000 -print_final_stats=1 2>&1 \
        | tail -n 3
done
python3 -m pytest -q -ra --continue-on-collection-errors "$@"
