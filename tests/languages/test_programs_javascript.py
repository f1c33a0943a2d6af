"""Real JavaScript programs through the CLI, as a user builds and runs them: a notes renderer
on marked, yaml and date-fns (package.json dependencies as written), a release tool on
Node's builtins (path, events, util, buffer, crypto) and a log roll-up on its I/O builtins
(fs/promises, stream, stream/promises, string_decoder, url, os). Each is built once per
session with `wasmforge build --sign-key` and run with `wasmforge run` in the wasm and
process tiers; the expected outputs are what Node.js prints for the same sources (stored,
or for the log roll-up, printed by `node` in the test)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from program_support import PROGRAMS, TIERS, ProgramCli, program_cli_fixture  # noqa: F401

pytestmark = pytest.mark.slow


@dataclass
class JsPrograms:
    """The JavaScript programs through the shared ProgramCli, each built once."""

    cli: ProgramCli

    @property
    def root(self) -> Path:
        return self.cli.root

    def wasmforge(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return self.cli.wasmforge(*args, stdin=stdin)

    def image(self, program: str) -> Path:
        return self.cli.image(program, "javascript")

    def run(self, program: str, tier: str, *args: str, stdin: str = "",
            options: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
        return self.cli.run(self.image(program), tier, *args, stdin=stdin, options=options)


@pytest.fixture(scope="session")
def js_programs(program_cli: ProgramCli) -> JsPrograms:
    return JsPrograms(program_cli)


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


@pytest.mark.parametrize("builtin", ["node:net", "child_process"])
def test_unsupported_builtin_is_named_at_build(js_programs: JsPrograms, builtin: str) -> None:
    source = js_programs.root / "src" / f"js_{builtin.replace(':', '_')}"
    shutil.copytree(PROGRAMS / "js_builtins", source)
    (source / "lib" / "fetcher.js").write_text(
        f'import {{ readFileSync }} from "fs";\nimport missing from "{builtin}";\n'
        "export const connect = () => missing.connect(80, readFileSync);\n")
    main = source / "main.js"
    main.write_text('import { connect } from "./lib/fetcher.js";\n' + main.read_text())
    built = js_programs.wasmforge("build", str(source))
    assert built.returncode != 0
    assert "lib/fetcher.js:2:" in built.stderr
    assert f'"{builtin}" is a Node.js builtin that wasmforge components do not have' in built.stderr
    assert "os, path" in built.stderr and "stream" in built.stderr  # what they do have
    assert "platform" not in built.stderr and "Traceback" not in built.stderr
    assert not (source / "build" / "js-builtins.oci.tar").exists()


LOGROLL = PROGRAMS / "js_logroll"


@dataclass
class LogFolders:
    """A copy of js_logroll's logs, and one output folder for node and one for wasmforge."""

    logs: Path
    node_out: Path
    out: Path

    def mounts(self) -> tuple[str, ...]:
        return ("--mount", f"{self.logs}:/logs:ro", "--mount", f"{self.out}:/out")


@pytest.fixture
def log_folders(tmp_path: Path) -> LogFolders:
    folders = LogFolders(tmp_path / "logs", tmp_path / "node-out", tmp_path / "out")
    shutil.copytree(LOGROLL / "logs", folders.logs)
    folders.node_out.mkdir()
    folders.out.mkdir()
    return folders


def _node_prints(folders: LogFolders, *args: str) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not on PATH")
    return subprocess.run([node, str(LOGROLL / "main.js"), str(folders.logs),
                           str(folders.node_out), *args],
                          capture_output=True, text=True, timeout=120, check=True)


@pytest.mark.parametrize("tier", TIERS)
def test_log_roll_up_behaves_like_node(js_programs: JsPrograms, log_folders: LogFolders,
                                       tier: str) -> None:
    expected = _node_prints(log_folders)
    ran = js_programs.run("js_logroll", tier, "/logs", "/out", options=log_folders.mounts())
    assert ran.returncode == 0, ran.stderr
    # fs/promises over the mounts, Transforms piped into process.stdout, file URLs, url.parse
    assert "worker.log:2 2025-03-01T09:00:30.000Z job 42 failed: größe ungültig" in ran.stdout
    assert "reports/daily/summary.txt file:" in ran.stdout
    assert ran.stdout == expected.stdout
    assert "2 errors\n" in ran.stderr  # process.stderr.write, as a Writable
    summary = Path("reports", "daily", "summary.txt")
    assert (log_folders.out / summary).read_text("utf-8") == \
        (log_folders.node_out / summary).read_text("utf-8")
    assert (log_folders.out / "reports" / "index.json").read_text() == '{"lines":2}'


def test_os_answers_for_the_wasi_guest(js_programs: JsPrograms,
                                       log_folders: LogFolders) -> None:
    ran = js_programs.run("js_logroll", "wasm", "/logs", "/out", "os",
                          options=(*log_folders.mounts(), "--env", "HOME=/home/app",
                                   "--env", "TMPDIR=/scratch/"))
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == [
        "== os", '"\\n" true', "wasi WASI wasm32 /scratch /home/app localhost", "1 1 LE "]
    plain = js_programs.run("js_logroll", "wasm", "/logs", "/out", "os",
                            options=log_folders.mounts())
    assert "wasi WASI wasm32 /tmp / localhost" in plain.stdout


@pytest.mark.parametrize("tier", TIERS)
def test_fs_promises_keeps_to_the_mounts(js_programs: JsPrograms, log_folders: LogFolders,
                                         tier: str) -> None:
    ran = js_programs.run("js_logroll", tier, "/logs", "/out", "readonly",
                          options=log_folders.mounts())
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines()[1:] == [
        "EPERM EPERM: operation not permitted, open '/logs/new.log'",
        "EPERM EPERM: operation not permitted, mkdir '/logs/made'",
        "ENOENT ENOENT: no such file or directory (no mount grants it), open '/etc/passwd'"]
    assert sorted(p.name for p in log_folders.logs.iterdir()) == [
        "README.txt", "api.log", "archive", "worker.log"]
