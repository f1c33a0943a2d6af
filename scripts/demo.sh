#!/usr/bin/env bash
# The main job: set up, then scaffold, build, sign and run a hello in every language.
# With --serve, set-up also builds the HTTP serving host (minutes), and the demo then serves
# every language's HTTP hello too (it does wherever that host is built already).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh "$@"
python3 scripts/demo.py
