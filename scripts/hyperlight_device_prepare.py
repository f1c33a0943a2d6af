"""Prepare everything the Hyperlight boot check needs on a host that reaches no registry.

    python scripts/hyperlight_device_prepare.py [--out build/hyperlight-device]

Writes into OUT (git-ignored; carry it to the device):
  hello.oci.tar, device.pub        a C hello made by `wasmforge build --hyperlight` and
                                   signed with a throwaway key: what `wasmforge run
                                   --isolation hypervisor` boots on the device
  hello.aot, hello.executor.wasm   its Hyperlight layers, for benchmarks/hyperlight_boot.py
  wheels/                          hyperlight-sandbox + hyperlight-sandbox-backend-wasm and
                                   what `wasmforge run` imports, for CPython 3.11 and 3.12,
                                   manylinux x86_64 (pip download)
  manifest.json                    versions, digests and what was built with what
Then, on the device:  bash scripts/hyperlight_device_check.sh OUT
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
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
# What `wasmforge run` imports (pyproject's dependencies minus build- and registry-only ones).
RUNTIME = ("typer==0.28.0", "rich>=13", "cryptography>=42", "wasmtime==50.0.1",
           "jsonschema>=4.20")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux2014_x86_64", "manylinux_2_17_x86_64")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("build/hyperlight-device"))
    parser.add_argument("--jco", type=Path, help="jco's folder (default: the toolchain cache's)")
    parser.add_argument("--no-wheels", action="store_true")
    options = parser.parse_args()
    out: Path = options.out
    out.mkdir(parents=True, exist_ok=True)
    if options.jco:
        os.environ["WASMFORGE_JCO"] = str(options.jco)
    from wasmforge.languages.tools import toolchains_dir

    # A throwaway home (the signing key's trust entry, the build store) that still finds the
    # installed toolchains.
    os.environ.setdefault("WASMFORGE_TOOLCHAINS", str(toolchains_dir()))
    home = tempfile.mkdtemp(prefix="wasmforge-device-home-")
    os.environ["WASMFORGE_HOME"] = home
    try:
        return prepare(out, options.no_wheels)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def prepare(out: Path, no_wheels: bool) -> int:
    from wasmforge.guest import hyperlight as guest
    from wasmforge.image.keys import generate_keypair
    from wasmforge.image.model import HYPERLIGHT_AOT_MEDIA_TYPE, HYPERLIGHT_COMPONENT_MEDIA_TYPE
    from wasmforge.image.reader import load_image
    from wasmforge.templates import scaffold
    from wasmforge.toolchain.build import build_project

    with tempfile.TemporaryDirectory(prefix="wasmforge-device-") as tmp:
        work = Path(tmp)
        keys = generate_keypair(work / "device", None)
        project = work / "hello"
        scaffold("hello", "c", project)
        (project / "main.c").write_text(HELLO)
        built = build_project(project, sign_key=keys.private, hyperlight=True)
        shutil.copyfile(built.image, out / "hello.oci.tar")
        shutil.copyfile(keys.public, out / "device.pub")
    image = load_image(out / "hello.oci.tar", trust=(out / "device.pub",))
    aot = image.layer(HYPERLIGHT_AOT_MEDIA_TYPE)
    executor = image.layer(HYPERLIGHT_COMPONENT_MEDIA_TYPE)
    assert aot is not None and executor is not None
    (out / "hello.aot").write_bytes(aot.data)
    (out / "hello.executor.wasm").write_bytes(executor.data)
    if not no_wheels:
        for python in ("3.11", "3.12"):
            platforms = [arg for name in PLATFORMS for arg in ("--platform", name)]
            subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--only-binary",
                            ":all:", "--python-version", python, *platforms,
                            "-d", str(out / "wheels"), *WHEELS, *RUNTIME], check=True)
    backend = guest.backend_guest()
    manifest = {
        "image": image.digest,
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
