"""A file the manifest does not grant is denied by wasmforge's runtime, in every language.

Each language's program is built and signed with `wasmforge build --sign-key` and run with
`wasmforge run` in every usable tier, with one declared read-only mount. It reads the path
it is given: the mounted file must come through (so the runtime, not an empty harness, is
what answers), and a host file outside the mount, /etc/passwd and a `..` path must be
denied, with the language's own error printed and no host content anywhere in the output.
These replace the per-language "undeclared file is denied" tests, which ran under a bare
wasmtime harness that preopened nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from tier_support import require_tier

from wasmforge.languages import get_driver
from wasmforge.languages.tools import toolchains_dir
from wasmforge.runtime.tiers import status

pytestmark = pytest.mark.slow

SECRET = "host-secret-5b1e"
ALLOWED = "granted-content-91c2"
PROGRAMS = {
    "c": ("main.c", r"""#include <errno.h>
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
    FILE *f = fopen(argv[1], "r");
    if (!f) { printf("denied: %s\n", strerror(errno)); return 2; }
    char buffer[256] = {0};
    fread(buffer, 1, sizeof buffer - 1, f);
    printf("read: %s\n", buffer);
    return 0;
}
"""),
    "go": ("main.go", """package main

import (
	"fmt"
	"os"
)

func main() {
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Println("denied:", err)
		os.Exit(2)
	}
	fmt.Printf("read: %s\\n", data)
}
"""),
    "rust": ("src/main.rs", """fn main() {
    let path = std::env::args().nth(1).unwrap();
    match std::fs::read_to_string(&path) {
        Ok(text) => println!("read: {}", text),
        Err(err) => {
            println!("denied: {}", err);
            std::process::exit(2);
        }
    }
}
"""),
    "python": ("main.py", """import sys

try:
    with open(sys.argv[1]) as handle:
        print("read:", handle.read())
except OSError as err:
    print("denied:", type(err).__name__, err.strerror)
    sys.exit(2)
"""),
    "javascript": ("main.js", """import { readFileSync } from "fs";

try {
  console.log(`read: ${readFileSync(process.argv[2], "utf8")}`);
} catch (err) {
  console.log(`denied: ${err.code}`);
  process.exitCode = 2;
}
"""),
}
# what each language prints for a path that does not exist for the guest
NOT_FOUND = {"c": "denied: No such file or directory",
             "go": "Bad file number",  # Go's wasip1 runtime: no preopen holds the path
             # Rust 1.96 std: no preopen holds the path, so it is not capable of opening it
             "rust": "denied: Capabilities insufficient (os error 76)",
             "python": "denied: FileNotFoundError No such file or directory",
             "javascript": "denied: ENOENT"}
TIERS = ("wasm", "process", "hypervisor")


@dataclass(frozen=True)
class Built:
    language: str
    image: Path
    home: Path


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, WASMFORGE_HOME=str(home), WASMFORGE_TOOLCHAINS=str(toolchains_dir()))
    return subprocess.run([sys.executable, "-m", "wasmforge", *args], capture_output=True,
                          text=True, env=env, timeout=900)


@pytest.fixture(scope="module", params=sorted(PROGRAMS))
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Built:
    language = str(request.param)
    state = get_driver(language).status()
    if not state.usable:
        pytest.skip(f"{language} toolchain not usable here: {state.problem} ({state.remedy})")
    work = tmp_path_factory.mktemp(f"undeclared-{language}")
    home, root = work / "home", work / "reader"
    assert _cli(home, "new", "reader", "--lang", language, "--dir", str(root)).returncode == 0
    name, source = PROGRAMS[language]
    (root / name).write_text(source)
    manifest = root / "wasmforge.toml"
    manifest.write_text(manifest.read_text().replace(
        "mounts = []", 'mounts = [{ guest = "/data", mode = "ro" }]', 1))
    assert _cli(home, "keygen", "--out", str(work / "key")).returncode == 0
    args = ["build", str(root), "--sign-key", str(work / "key.key")]
    if status("hypervisor").usable:
        args.append("--hyperlight")
    done = _cli(home, *args)
    assert done.returncode == 0, done.stderr
    return Built(language, root / "build" / "reader.oci.tar", home)


@pytest.fixture(params=TIERS)
def tier(request: pytest.FixtureRequest) -> str:
    return require_tier(str(request.param))


def test_only_the_declared_mount_is_readable(built: Built, tier: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "allowed.txt").write_text(ALLOWED)
    (tmp_path / "secret.txt").write_text(SECRET)

    def read(path: str) -> subprocess.CompletedProcess[str]:
        done = _cli(built.home, "run", str(built.image), "--isolation", tier,
                    "--mount", f"{data}:/data:ro", "--", path)
        assert SECRET not in done.stdout + done.stderr and "root:x:0:0" not in done.stdout
        assert "Traceback" not in done.stderr
        return done

    granted = read("/data/allowed.txt")
    assert granted.returncode == 0, granted.stderr
    assert f"read: {ALLOWED}" in granted.stdout
    for path in (str(tmp_path / "secret.txt"), "/etc/passwd"):
        denied = read(path)
        assert denied.returncode == 1, denied.stderr
        assert denied.stdout.startswith("denied:") and NOT_FOUND[built.language] in \
            denied.stdout, denied.stdout
    climbing = read("/data/../secret.txt")
    assert climbing.returncode == 1 and climbing.stdout.startswith("denied:"), climbing.stdout
