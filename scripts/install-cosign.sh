#!/usr/bin/env bash
# Build the pinned cosign from the Go module proxy into wasmforge's toolchain cache, for
# tests/image/test_cosign_interop.py (which reads COSIGN_VERSION from this file). Idempotent:
# a cosign of the pinned version already there is kept. Prints the binary's path.
# A cold build (module downloads included) takes about 3 minutes on 2 cores.
set -euo pipefail

COSIGN_VERSION=v2.6.5
MODULE=github.com/sigstore/cosign/v2/cmd/cosign

toolchains="${WASMFORGE_TOOLCHAINS:-${WASMFORGE_HOME:-$HOME/.cache/wasmforge}/toolchains}"
dest="$toolchains/cosign-$COSIGN_VERSION"

if [ -x "$dest/cosign" ] && "$dest/cosign" version 2>/dev/null \
    | grep -Eq "^GitVersion: +$COSIGN_VERSION\$"; then
  echo "$dest/cosign"
  exit 0
fi

go_bin="$(command -v go || true)"
[ -n "$go_bin" ] || go_bin=/usr/local/go/bin/go
if [ ! -x "$go_bin" ]; then
  echo "install-cosign: no Go toolchain (go on PATH or /usr/local/go/bin/go)" >&2
  exit 1
fi

mkdir -p "$toolchains"
work="$(mktemp -d "$toolchains/.cosign-$COSIGN_VERSION.XXXXXX")"
trap 'rm -rf "$work"' EXIT
start=$SECONDS
if ! GOBIN="$work/bin" "$go_bin" install -trimpath -ldflags="-s -w" \
    "$MODULE@$COSIGN_VERSION" >"$work/build.log" 2>&1; then
  tail -n 20 "$work/build.log" >&2
  echo "install-cosign: go install $MODULE@$COSIGN_VERSION failed" >&2
  exit 1
fi
"$work/bin/cosign" version >/dev/null 2>&1 || {
  echo "install-cosign: the cosign just built does not run" >&2
  exit 1
}
# replace any half-made or stale copy in one rename
rm -rf "$dest"
mv "$work/bin" "$dest"
echo "install-cosign: built cosign $COSIGN_VERSION in $((SECONDS - start))s" >&2
echo "$dest/cosign"
