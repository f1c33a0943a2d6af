"""A real Python program, as a user writes it, through the CLI: jinja2, PyYAML and
python-dateutil from a plain requirements.txt, built with `wasmforge build --sign-key` and
run with `wasmforge run` in the wasm and process tiers.

markupsafe (jinja2's dependency) and PyYAML publish no pure wheel: the build makes them
without their C speedups, and the guest runs their pure-Python fallbacks. dateutil reads
its time zones from the tzdata package's data files (importlib.resources; the program's
zone check uses pkgutil.get_data), and the guest encodes a host name with the idna codec.
A package whose C extension is not optional is refused by name.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from wasmforge.languages.python_deps import GUEST_PYTHON
from wasmforge.languages.tools import toolchains_dir

pytestmark = pytest.mark.slow

PROGRAM = Path(__file__).parent / "programs" / "python_schedule"
SCHEDULE = (PROGRAM / "schedule.yaml").read_text()
# The guest's interpreter is the one pip resolved for (GUEST_PYTHON), and runs the pure
# fallbacks: no libyaml, markupsafe's Python escape.
GUEST_FACTS = (f"python {GUEST_PYTHON}, libyaml False, escape markupsafe._native, "
               "idna xn--bcher-kva.example")
TEXT = """\
Team <planning> (Europe/Paris)
Thu 2025-03-27 17:00 CET  Retro          60 min, online
Fri 2025-03-28 09:30 CET  Stand-up       15 min, online
Sat 2025-03-29 09:30 CET  Stand-up       15 min, online
Sun 2025-03-30 09:30 CEST  Stand-up       15 min, online
Mon 2025-03-31 09:30 CEST  Stand-up       15 min, online
Mon 2025-03-31 18:00 CEST  Review & demo  45 min, room 2
6 meetings, 165 minutes
"""
HTML = """\
<h1>Team &lt;planning&gt;</h1>
<ul>
<li>2025-03-27T17:00:00+01:00 Retro</li>
<li>2025-03-28T09:30:00+01:00 Stand-up</li>
<li>2025-03-29T09:30:00+01:00 Stand-up</li>
<li>2025-03-30T09:30:00+02:00 Stand-up</li>
<li>2025-03-31T09:30:00+02:00 Stand-up</li>
<li>2025-03-31T18:00:00+02:00 Review &amp; demo</li>
</ul>
"""
YAML = """\
first: '2025-03-27T17:00:00+01:00'
last_end: '2025-03-31T18:45:00+02:00'
titles:
- Retro
- Review & demo
- Stand-up
"""


@dataclass(frozen=True)
class Cli:
    """`python -m wasmforge ARGS` with a private WASMFORGE_HOME and the real toolchains."""

    home: Path

    def __call__(self, *args: str | Path, stdin: str = "", cwd: Path | None = None
                 ) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, WASMFORGE_HOME=str(self.home),
                   WASMFORGE_TOOLCHAINS=str(toolchains_dir()))
        return subprocess.run([sys.executable, "-m", "wasmforge", *map(str, args)],
                              input=stdin, capture_output=True, text=True, env=env, cwd=cwd,
                              timeout=1200)


@dataclass(frozen=True)
class Built:
    cli: Cli
    root: Path
    image: Path


def _require_python(cli: Cli) -> None:
    from wasmforge.languages.python import driver

    status = driver.status()
    if not status.usable:
        pytest.skip(f"python toolchain not usable here: {status.problem} ({status.remedy})")


def _new_project(cli: Cli, parent: Path, name: str, files: dict[str, str]) -> Path:
    root = parent / name
    done = cli("new", name, "--lang", "python", "--dir", root)
    assert done.returncode == 0, done.stderr
    for rel, text in files.items():
        (root / rel).write_text(text)
    return root


@pytest.fixture(scope="session")
def schedule(tmp_path_factory: pytest.TempPathFactory) -> Built:
    cli = Cli(tmp_path_factory.mktemp("py-program-home"))
    _require_python(cli)
    parent = tmp_path_factory.mktemp("py-program")
    files = {p.name: p.read_text() for p in PROGRAM.iterdir() if p.suffix in (".py", ".txt")}
    root = _new_project(cli, parent, "schedule", files)
    key = parent / "signer"
    done = cli("keygen", "--out", key)
    assert done.returncode == 0, done.stderr
    done = cli("build", root, "--sign-key", f"{key}.key")
    assert done.returncode == 0, done.stderr
    assert "signed     yes" in done.stderr
    return Built(cli, root, root / "build" / "schedule.oci.tar")


def _require_tier(tier: str) -> None:
    from wasmforge.runtime.tiers import status

    state = status(tier)
    if not state.usable:
        pytest.skip(f"isolation tier {tier} is not usable here: {state.detail}")


@pytest.mark.parametrize("tier", ["wasm", "process"])
@pytest.mark.parametrize("style, expected", [("text", TEXT), ("html", HTML), ("yaml", YAML)])
def test_schedule_renders_in_every_tier(schedule: Built, tier: str, style: str,
                                        expected: str) -> None:
    _require_tier(tier)
    run = schedule.cli("run", schedule.image, "--isolation", tier, "--", style, stdin=SCHEDULE)
    assert run.returncode == 0, run.stderr
    assert run.stdout == expected
    assert GUEST_FACTS in run.stderr.splitlines()


def test_unknown_time_zone_fails_with_the_programs_message(schedule: Built) -> None:
    # the zone list is tzdata's data file, read with pkgutil.get_data in the guest
    run = schedule.cli("run", schedule.image, "--isolation", "wasm",
                       stdin=SCHEDULE.replace("Europe/Paris", "Mars/Olympus"))
    assert run.returncode == 1
    assert run.stdout == ""
    assert "unknown time zone 'Mars/Olympus': use an IANA name, such as 'Africa/Abidjan'" \
        in run.stderr.splitlines()


def test_a_rebuild_of_the_unchanged_program_is_cached(schedule: Built) -> None:
    done = schedule.cli("build", schedule.root)
    assert done.returncode == 0, done.stderr
    assert "up to date (cached)" in done.stderr


def test_package_that_needs_its_c_extension_is_refused_by_name(tmp_path: Path) -> None:
    # bitarray's C extension is the package itself: no pure fallback exists.
    cli = Cli(tmp_path / "home")
    _require_python(cli)
    root = _new_project(cli, tmp_path, "bits",
                        {"requirements.txt": "bitarray==3.0.0\n",
                         "main.py": "import bitarray\nprint(bitarray.bitarray('101'))\n"})
    done = cli("build", root)
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: {root / 'requirements.txt'}: package bitarray needs "
                                  "native code (bitarray/_bitarray.c), which cannot run inside "
                                  "a WebAssembly component; it would need a WASI (wasm32-wasi) "
                                  "build of bitarray"), done.stderr
    assert "Traceback" not in done.stderr
    assert not (root / "build" / "bits.wasm").exists()
    assert not (root / "build" / "bits.oci.tar").exists()


def test_built_pure_wheels_are_kept_for_later_builds(schedule: Built) -> None:
    wheels = sorted(p.name for p in (schedule.cli.home / "cache" / "python-wheels").iterdir())
    assert any(name.startswith("markupsafe-") and name.endswith("-py3-none-any.whl")
               for name in wheels), wheels
    assert any(name.startswith("pyyaml-") and name.endswith("-py3-none-any.whl")
               for name in wheels), wheels
