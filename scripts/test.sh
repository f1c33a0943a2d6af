#!/usr/bin/env bash
# Set up, lint, fuzz the image reader briefly, then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
python3 -m ruff check src tests benchmarks scripts fuzz
python3 fuzz/fuzz_image_reader.py -runs=2000 -print_final_stats=1 2>&1 | tail -n 3
python3 -m pytest -q -ra "$@"
