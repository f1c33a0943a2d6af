#!/usr/bin/env bash
# Boot check for the hypervisor tier on a host with a real KVM/MSHV, reaching no registry.
#   here:    python scripts/hyperlight_device_prepare.py      (writes build/hyperlight-device)
#   device:  bash scripts/hyperlight_device_check.sh [build/hyperlight-device]
# (with the device `run` tool: carry ["build/hyperlight-device"]). Installs the brought
# wheels into a scratch target (no index), then: doctor, the probe, the boot and its timings
# (benchmarks/hyperlight_boot.py), and `wasmforge run --isolation hypervisor` of the signed
# image as a user types it (output, arguments, environment, a failing exit).
set -uo pipefail
dir=${1:-build/hyperlight-device}
py=${PYTHON:-python3}
target=$(mktemp -d)
trap 'rm -rf "$target"' EXIT
"$py" --version
uname -r
ls -l /dev/kvm /dev/mshv 2>/dev/null
"$py" -m pip install --quiet --no-index --target "$target" --find-links "$dir/wheels" \
  hyperlight-sandbox==0.8.0 hyperlight-sandbox-backend-wasm==0.8.0 \
  typer==0.28.0 rich cryptography wasmtime==50.0.1 jsonschema || exit 1
export PYTHONPATH="$PWD/src:$target" WASMFORGE_HOME="$target/home"

echo "== doctor"
"$py" -m wasmforge doctor --json | "$py" -c 'import json,sys; r=json.load(sys.stdin); print(json.dumps({"tiers": r["tiers"], "packaging": r["packaging"]}, indent=1))'
echo "== boot and timings"
"$py" benchmarks/hyperlight_boot.py --aot "$dir/hello.aot" --runs "${RUNS:-200}"
echo "== wasmforge run --isolation hypervisor"
run() {
  local started=$(date +%s%N)
  "$py" -m wasmforge run "$dir/hello.oci.tar" --trust "$dir/device.pub" \
    --isolation hypervisor --env GREETING=howdy -- "$@"
  local code=$?
  echo "exit $code after $(( ($(date +%s%N) - started) / 1000000 )) ms"
}
run from the device
run fail
