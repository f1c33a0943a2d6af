#!/usr/bin/env bash
# Set-up on a fresh Debian 12 machine. Idempotent.
#   bash scripts/setup.sh          what the demo uses: wasmforge and the language toolchains
#   bash scripts/setup.sh --serve  also the HTTP serving host (`wasmforge serve`; cargo,
#                                  minutes the first time)
#   bash scripts/setup.sh --tests  also what only the tests use: pytest and ruff, the
#                                  Hyperlight packages and precompiler, the serving host,
#                                  a local registry, the nested KVM and cosign
set -euo pipefail
cd "$(dirname "$0")/.."
tests=0
serve=()
for arg in "$@"; do
  case "$arg" in
    --tests) tests=1 ;;
    --serve) serve=(serve) ;;
    *) echo "setup.sh: unknown option $arg (use --tests or --serve)" >&2; exit 2 ;;
  esac
done

apt_install() {  # the named Debian packages that are not installed yet (as root)
  local need=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
  done
  if [ "${#need[@]}" -gt 0 ]; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
  fi
}

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  # bubblewrap: the process tier; binutils: `ar` for the Rust sysroot; the Rust
  # toolchain's shared libraries come with `wasmforge toolchain install rust` below.
  wanted=(bubblewrap binutils ca-certificates)
  command -v npm >/dev/null || wanted+=(nodejs npm)
  python3 -m pip --version >/dev/null 2>&1 || wanted+=(python3-pip)
  if [ "$tests" = 1 ]; then
    # A local registry for push/pull; a KVM nested in QEMU's emulated AMD SVM, where the
    # host's own cannot run Hyperlight VMs (tests/nested_kvm.py).
    wanted+=(docker-registry qemu-system-x86 busybox-static kmod cpio)
  fi
  apt_install "${wanted[@]}"
fi

pip=(python3 -m pip install --quiet --disable-pip-version-check)
# Debian's own Python refuses pip installs outside a venv (PEP 668); this machine is
# wasmforge's, so install for the system Python as the README's commands expect.
python3 -c 'import sys, sysconfig, pathlib; sys.exit(not pathlib.Path(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED").exists())' \
  && pip+=(--break-system-packages)
if [ "$tests" = 1 ]; then
  "${pip[@]}" -e ".[dev,hyperlight]"
  python3 -m wasmforge toolchain install
else
  "${pip[@]}" -e .
  python3 -m wasmforge toolchain install c go rust python javascript "${serve[@]}"
  exit 0
fi

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
