"""Prepare everything the Hyperlight boot check needs on a host that reaches no registry.

    python scripts/hyperlight_device_prepare.py [--out build/hyperlight-device]

Writes into OUT (git-ignored; carry it to the device):
  hello.aot, hello.executor.wasm   a C hello (zig + jco adapter) through the same layer step
                                   as `wasmforge build --hyperlight` (executor + AOT code)
  wheels/                          hyperlight-sandbox + hyperlight-sandbox-backend-wasm for
                                   CPython 3.11 and 3.12, manylinux x86_64 (pip download)
  manifest.json                    versions, digests and what was built with what
Then, on the device:  bash scripts/hyperlight_device_check.sh OUT
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HELLO = r'''#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
    const char *who = getenv("GREETING");
    printf("hello from a Hyperlight VM:");
    for (int i = 1; i < argc; i++) printf(" %s", argv[i]);
    printf(" (GREETING=%s)\n", who ? who : "unset");
    if (argc > 1 && strcmp(argv[1], "fail") == 0) { fprintf(stderr, "failing\n"); return 3; }
    return 0;
}
'''
WHEELS = ("hyperlight-sandbox==0.8.0", "hyperlight-sandbox-backend-wasm==0.8.0")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("build/hyperlight-device"))
    parser.add_argument("--jco", type=Path, default=Path(os.environ.get(
        "WASMFORGE_JCO", "/tmp/setup/npmtc/node_modules/@bytecodealliance/jco")))
    parser.add_argument("--no-wheels", action="store_true")
    options = parser.parse_args()
    out: Path = options.out
    out.mkdir(parents=True, exist_ok=True)
    os.environ["WASMFORGE_JCO"] = str(options.jco)

    from wasmforge.guest import hyperlight as guest
    from wasmforge.image.model import HYPERLIGHT_AOT_MEDIA_TYPE, HYPERLIGHT_COMPONENT_MEDIA_TYPE
    from wasmforge.project import Project
    from wasmforge.toolchain.hyperlight import hyperlight_layers

    with tempfile.TemporaryDirectory(prefix="wasmforge-device-") as tmp:
        work = Path(tmp)
        (work / "hello.c").write_text(HELLO)
        core, component = work / "hello.core.wasm", work / "hello.wasm"
        subprocess.run([sys.executable, "-m", "ziglang", "cc", "-target", "wasm32-wasi", "-O2",
                        str(work / "hello.c"), "-o", str(core)], check=True)
        adapter = options.jco / "lib" / "wasi_snapshot_preview1.command.wasm"
        subprocess.run(["wasm-tools", "component", "new", str(core), "--adapt",
                        f"wasi_snapshot_preview1={adapter}", "-o", str(component)], check=True)
        project = Project(root=work, name="hello", version="0.1.0", language="c")
        layers = {layer.media_type: layer
                  for layer in hyperlight_layers(component.read_bytes(), project, work / "hl")}
    aot = layers[HYPERLIGHT_AOT_MEDIA_TYPE]
    (out / "hello.aot").write_bytes(aot.data)
    (out / "hello.executor.wasm").write_bytes(layers[HYPERLIGHT_COMPONENT_MEDIA_TYPE].data)
    if not options.no_wheels:
        for python in ("3.11", "3.12"):
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary",
                            ":all:", "--python-version", python, "--platform",
                            "manylinux_2_28_x86_64", "--platform", "manylinux2014_x86_64",
                            "-d", str(out / "wheels"), *WHEELS], check=True)
    backend = guest.backend_guest()
    manifest = {
        "aot": {"sha256": hashlib.sha256(aot.data).hexdigest(), **aot.annotations},
        "backend": backend.package_version if backend else None,
        "guest_wasmtime": backend.wasmtime if backend else None,
        "wheels": sorted(p.name for p in (out / "wheels").glob("*.whl")),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
