#!/usr/bin/env bash
# Boot check for the hypervisor tier on a host with a real KVM/MSHV, reaching no registry.
#   here:    python scripts/hyperlight_device_prepare.py      (writes build/hyperlight-device)
#   device:  bash scripts/hyperlight_device_check.sh [build/hyperlight-device]
# (with the device `run` tool: carry ["build/hyperlight-device"]). Installs the brought
# wheels into a scratch target (no index), then runs the probe, the boot and the timings.
set -euo pipefail
dir=${1:-build/hyperlight-device}
py=${PYTHON:-python3}
target=$(mktemp -d)
trap 'rm -rf "$target"' EXIT
"$py" --version
ls -l /dev/kvm /dev/mshv 2>/dev/null || true
"$py" -m pip install --quiet --no-index --no-deps --target "$target" \
  --find-links "$dir/wheels" hyperlight-sandbox==0.8.0 hyperlight-sandbox-backend-wasm==0.8.0
export PYTHONPATH="$PWD/src:$target" WASMFORGE_HOME="$target/home"
"$py" benchmarks/hyperlight_boot.py --aot "$dir/hello.aot" --runs "${RUNS:-200}"
