"""Real JavaScript programs through the CLI, as a user builds and runs them: a notes renderer
on marked, yaml and date-fns (package.json dependencies as written), and a release tool on
Node's builtins (path, events, util, buffer, crypto). Each is built once per session with
`wasmforge build --sign-key` and run with `wasmforge run` in the wasm and process tiers; the
expected outputs are what Node.js prints for the same sources."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from wasmforge.languages import get_driver
from wasmforge.languages.tools import toolchains_dir

pytestmark = pytest.mark.slow

PROGRAMS = Path(__file__).parent / "programs"
TIERS = ("wasm", "process")


@dataclass
class JsPrograms:
    """`python -m wasmforge` with a private home and key; each program built once."""

    root: Path
    images: dict[str, Path] = field(default_factory=dict)

    def wasmforge(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, WASMFORGE_HOME=str(self.root / "home"),
                   WASMFORGE_TOOLCHAINS=str(toolchains_dir()))
        return subprocess.run([sys.executable, "-m", "wasmforge", *args], input=stdin,
                              capture_output=True, text=True, env=env, timeout=900,
                              cwd=self.root)

    def image(self, program: str) -> Path:
        if program not in self.images:
            status = get_driver("javascript").status()
            if not status.usable:
                pytest.skip(f"javascript toolchain not usable here: {status.problem} "
                            f"({status.remedy})")
            source = self.root / "src" / program
            shutil.copytree(PROGRAMS / program, source)
            built = self.wasmforge("build", str(source), "--sign-key",
                                   str(self.root / "tester.key"), "--json")
            assert built.returncode == 0, built.stderr
            self.images[program] = Path(json.loads(built.stdout)["image"])
        return self.images[program]

    def run(self, program: str, tier: str, *args: str, stdin: str = "",
            options: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
        return self.wasmforge("run", str(self.image(program)), "--trust",
                              str(self.root / "tester.pub"), "--isolation", tier, *options,
                              "--", *args, stdin=stdin)


@pytest.fixture(scope="session")
def js_programs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JsPrograms]:
    programs = JsPrograms(tmp_path_factory.mktemp("js-programs"))
    keys = programs.wasmforge("keygen", "--out", str(programs.root / "tester"))
    assert keys.returncode == 0, keys.stderr
    yield programs


def _expected(program: str) -> str:
    return (PROGRAMS / program / "expected.txt").read_text("utf-8")


NOTES = PROGRAMS / "js_notes" / "notes"
MOUNT = ("--mount", f"{NOTES}:/notes:ro")


@pytest.mark.parametrize("tier", TIERS)
def test_notes_render_like_node(js_programs: JsPrograms, tier: str) -> None:
    ran = js_programs.run("js_notes", tier, "/notes/winter.md", "/notes/summer.md",
                          "/notes/spring.md", options=MOUNT)
    assert ran.returncode == 0, ran.stderr
    # marked's emphasis rules are \p{P}/\p{S} regexps: «Sí», ¡no! and 日本語 need them
    assert "<li><strong>«Sí»</strong> y <em>¡no!</em></li>" in ran.stdout
    assert "slug: über-den-winter" in ran.stdout  # the program's own \p{L} regexp
    assert ran.stdout == _expected("js_notes")


@pytest.mark.parametrize("tier", TIERS)
def test_note_on_stdin(js_programs: JsPrograms, tier: str) -> None:
    note = "---\ntitle: Stdin\ndate: 2025-02-28\n---\nHello *there*.\n"
    ran = js_programs.run("js_notes", tier, stdin=note)
    assert ran.returncode == 0, ran.stderr
    assert '<time datetime="2025-02-28">Friday, 28 February 2025</time>' in ran.stdout
    assert "<p>Hello <em>there</em>.</p>" in ran.stdout


@pytest.mark.parametrize("tier", TIERS)
def test_thrown_error_names_the_source_line(js_programs: JsPrograms, tier: str) -> None:
    ran = js_programs.run("js_notes", tier, stdin="---\ntitle: Bad\ndate: someday\n---\nx\n")
    assert ran.returncode != 0
    assert 'RangeError: <stdin>: "date" must be an ISO date' in ran.stderr
    # the throw, its caller and the top level, each at the user's file and line
    assert "noteDate@lib/render.js:11" in ran.stderr
    assert "renderNote@lib/render.js:21" in ran.stderr
    assert "@main.js:15" in ran.stderr
    assert "component.js" not in ran.stderr and "Traceback" not in ran.stderr


@pytest.mark.parametrize("tier", TIERS)
def test_builtins_behave_like_node(js_programs: JsPrograms, tier: str) -> None:
    ran = js_programs.run("js_builtins", tier)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == _expected("js_builtins")


def test_unsupported_builtin_is_named_at_build(js_programs: JsPrograms) -> None:
    source = js_programs.root / "src" / "js_net"
    shutil.copytree(PROGRAMS / "js_builtins", source)
    (source / "lib" / "fetcher.js").write_text(
        'import { readFileSync } from "fs";\nimport net from "node:net";\n'
        "export const connect = () => net.connect(80, readFileSync);\n")
    main = source / "main.js"
    main.write_text('import { connect } from "./lib/fetcher.js";\n' + main.read_text())
    built = js_programs.wasmforge("build", str(source))
    assert built.returncode != 0
    assert "lib/fetcher.js:2:" in built.stderr
    assert '"node:net" is a Node.js builtin that wasmforge components do not have' in built.stderr
    assert "platform" not in built.stderr and "Traceback" not in built.stderr
    assert not (source / "build" / "js-builtins.oci.tar").exists()
