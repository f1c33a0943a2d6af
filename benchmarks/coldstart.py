"""Cold-start benchmark: per language and isolation tier, p50/p99 of instantiate + run to
exit, the first run over later runs, and runs/s with one thread per CPU.

    python benchmarks/coldstart.py [LANG ...] [--runs N] [--image PATH ...] [--json]

Each language's hello project is made with `wasmforge new`, built signed with
`[build] precompile = true` (and `--hyperlight` where Hyperlight VMs boot), and benchmarked
with runtime.bench.bench_image; a tier that cannot run here says why. Where a
language's build fails the row says why. If C cannot be built through wasmforge, a hello
is compiled here with the pinned zig and the jco preview1 adapter so the tiers can still be
compared. Prebuilt images can be measured with --image (they must be signed by a key in
the trust store, or pass --insecure-allow-unsigned).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from wasmforge.project import LANGUAGES
from wasmforge.runtime.bench import bench_image

ADAPTER = Path("/tmp/setup/npmtc/node_modules/@bytecodealliance/jco/lib/"
               "wasi_snapshot_preview1.command.wasm")
HELLO_C = '#include <stdio.h>\nint main(void) { printf("hello\\n"); return 0; }\n'


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wasmforge", *args], capture_output=True,
                          text=True, timeout=1800, env=dict(os.environ))


def build_language(language: str, work: Path, key: Path) -> tuple[Path | None, str]:
    project = work / f"cold-{language}"
    made = cli("new", f"cold-{language}", "--lang", language, "--dir", str(project))
    if made.returncode != 0:
        return None, _last_line(made.stderr)
    manifest = project / "wasmforge.toml"
    text = manifest.read_text()
    if "[build]" in text:
        text = text.replace("[build]", "[build]\nprecompile = true", 1)
    else:
        text += "\n[build]\nprecompile = true\n"
    manifest.write_text(text)
    hyperlight = ["--hyperlight"] if _hypervisor_usable() else []
    built = cli("build", str(project), "--sign-key", str(key), "--json", *hyperlight)
    if built.returncode != 0:
        return None, _last_line(built.stderr)
    return Path(json.loads(built.stdout)["image"]), ""


def _hypervisor_usable() -> bool:
    """Where Hyperlight VMs boot, images also carry their code (`build --hyperlight`), so
    that the hypervisor row measures VM create + load and calls after restore."""
    from wasmforge.runtime.tiers import status

    return status("hypervisor").usable


def c_by_hand(work: Path, key: Path) -> tuple[Path | None, str]:
    """A C hello built without wasmforge's driver: zig + wasm-tools + the jco adapter."""
    from wasmforge.image.layout import write_image
    from wasmforge.image.model import ProvenanceInputs, WitSummary
    from wasmforge.image.signing import sign_image
    from wasmforge.project import Capabilities, Project
    from wasmforge.toolchain.precompile import precompile_layer

    if not ADAPTER.is_file() or shutil.which("wasm-tools") is None:
        return None, "neither wasmforge's C driver nor zig + wasm-tools + jco's adapter"
    (work / "hello.c").write_text(HELLO_C)
    try:
        subprocess.run([sys.executable, "-m", "ziglang", "cc", "-target", "wasm32-wasi", "-O2",
                        str(work / "hello.c"), "-o", str(work / "hello.core.wasm")],
                       check=True, capture_output=True)
        subprocess.run(["wasm-tools", "component", "new", str(work / "hello.core.wasm"),
                        "--adapt", f"wasi_snapshot_preview1={ADAPTER}", "-o",
                        str(work / "hello.wasm")], check=True, capture_output=True)
    except (subprocess.CalledProcessError, FileNotFoundError) as err:
        return None, f"building the C hello by hand failed: {err}"
    component = (work / "hello.wasm").read_bytes()
    project = Project(root=work, name="hello-c", version="0.1.0", language="c",
                      capabilities=Capabilities())
    image = work / "hello-c.oci.tar"
    write_image(image, project=project, component=component,
                wit=WitSummary(imports=(), exports=()), extra_layers=[precompile_layer(component)],
                provenance=ProvenanceInputs({}, {}, "bench", 0, 0))
    sign_image(image, key)
    return image, ""


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:120] if lines else "failed"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("languages", nargs="*", default=list(LANGUAGES))
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--image", action="append", type=Path, default=[])
    parser.add_argument("--insecure-allow-unsigned", action="store_true")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="wasmforge-coldstart-"))
    from wasmforge.languages.tools import toolchains_dir

    # A private home (keys, trust store, caches) that still finds the installed toolchains.
    os.environ.setdefault("WASMFORGE_TOOLCHAINS", str(toolchains_dir()))
    os.environ.setdefault("WASMFORGE_HOME", str(work / "home"))
    rows: list[dict[str, Any]] = []
    try:
        from wasmforge.image.keys import generate_keypair

        key = generate_keypair(work / "bench", None).private
        targets: list[tuple[str, Path | None, str]] = []
        if options.image:
            targets += [(path.name, path, "") for path in options.image]
        else:
            for language in options.languages:
                image, why = build_language(language, work, key)
                if image is None and language == "c":
                    (work / "c-by-hand").mkdir()
                    image, fallback = c_by_hand(work / "c-by-hand", key)
                    language, why = ("c (zig, by hand)", "") if image else (language, fallback)
                targets.append((language, image, why))
        for label, image, why in targets:
            if image is None:
                rows.append({"language": label, "tiers": [], "unavailable": why})
                continue
            report = bench_image(image, runs=options.runs,
                                 allow_unsigned=options.insecure_allow_unsigned)
            rows.append({"language": label, **report.to_json()})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if options.json:
        print(json.dumps(rows, indent=2))
        return 0
    _render(rows)
    return 0


def _render(rows: list[dict[str, Any]]) -> None:
    console = Console(highlight=False, width=max(140, Console().width))
    machine = next((row["machine"] for row in rows if "machine" in row), "")
    where = f" on {machine}" if machine else ""
    table = Table(title=f"cold start (instantiate + run to exit){where}")
    for column in ("language", "tier", "p50 ms", "p99 ms", "first/later", "runs/s", "note"):
        table.add_column(column)
    for row in rows:
        if row.get("unavailable") is not None and not row["tiers"]:
            table.add_row(row["language"], "-", "-", "-", "-", "-", row["unavailable"])
            continue
        for tier in row["tiers"]:
            if "unavailable" in tier:
                table.add_row(row["language"], tier["tier"], "-", "-", "-", "-",
                              tier["unavailable"][:60])
                continue
            table.add_row(row["language"], tier["tier"], f"{tier['p50_ms']:.3f}",
                          f"{tier['p99_ms']:.3f}", f"{tier['first_over_later']:.1f}",
                          f"{tier['runs_per_s']:.0f}", "")
    console.print(table)


if __name__ == "__main__":
    sys.exit(main())
