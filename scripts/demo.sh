#!/usr/bin/env bash
# The main job: set up, then scaffold, build, sign and run a hello in every language.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
python3 scripts/demo.py "$@"
