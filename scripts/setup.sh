#!/usr/bin/env bash
# Everything wasmforge and its tests need on a fresh Debian 12 machine. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  wanted=(bubblewrap docker-registry rustc cargo libstd-rust-dev-wasm32)
  # A KVM nested in QEMU's emulated AMD SVM, where the host's own cannot run Hyperlight
  # VMs (tests/support/nested_kvm.py; tests/guest/test_hyperlight_vm.py).
  wanted+=(qemu-system-x86 busybox-static kmod cpio)
  command -v npm >/dev/null || wanted+=(nodejs npm)
  need=()
  for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
  done
  if [ "${#need[@]}" -gt 0 ]; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
  fi
fi

python3 -m pip install --quiet --disable-pip-version-check -e ".[dev,hyperlight]"
python3 -m wasmforge toolchain install
# The nested KVM's kernel and initrd; the real-VM tests skip with the reason without them.
if [ "$(id -u)" = 0 ] && ! python3 tests/support/nested_kvm.py prepare >/dev/null; then
  echo "warning: could not prepare the nested KVM (tests/support/nested_kvm.py prepare); the real" \
       "Hyperlight VM tests will skip" >&2
fi
# cosign, only for tests/image/test_cosign_interop.py (which skips without it): a failed
# build warns and set-up goes on.
if ! bash scripts/install-cosign.sh >/dev/null; then
  echo "warning: could not build cosign (scripts/install-cosign.sh); the cosign interop" \
       "tests will skip" >&2
fi
