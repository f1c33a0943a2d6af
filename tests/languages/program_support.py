"""Real programs (tests/languages/programs/<name>/) built and run as a user does: the CLI in
a subprocess, `wasmforge build --sign-key`, then `wasmforge run --trust` in a tier.

Each test module imports `program_cli_fixture` (the session fixture `program_cli`: one
key, one build cache, each program built once per session) and the tiers to run in.
"""

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

PROGRAMS = Path(__file__).parent / "programs"
TIERS = ("wasm", "process")


@dataclass
class ProgramCli:
    """`python -m wasmforge` with a private WASMFORGE_HOME and the installed toolchains."""

    root: Path
    images: dict[str, Path] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return dict(os.environ, WASMFORGE_HOME=str(self.root / "home"),
                    WASMFORGE_TOOLCHAINS=str(toolchains_dir()))

    def wasmforge(self, *args: str, stdin: str = "", timeout: float = 900
                  ) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "wasmforge", *args], input=stdin,
                              capture_output=True, text=True, env=self.env, timeout=timeout,
                              cwd=self.root)

    def image(self, program: str, language: str) -> Path:
        """The signed image of programs/<program>, built once (skips without a toolchain)."""
        if program in self.images:
            return self.images[program]
        status = get_driver(language).status()
        if not status.usable:
            pytest.skip(f"{language} toolchain not usable here: {status.problem} "
                        f"({status.remedy})")
        source = self.root / "src" / program
        shutil.copytree(PROGRAMS / program, source)
        built = self.wasmforge("build", str(source), "--sign-key", str(self.key), "--json")
        assert built.returncode == 0, built.stderr
        self.images[program] = Path(json.loads(built.stdout)["image"])
        return self.images[program]

    @property
    def key(self) -> Path:
        return self.root / "tester.key"

    def run(self, image: Path, tier: str, *args: str, stdin: str = "",
            options: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
        return self.wasmforge("run", str(image), "--trust", str(self.root / "tester.pub"),
                              "--isolation", tier, *options, "--", *args, stdin=stdin,
                              timeout=300)


@pytest.fixture(scope="session", name="program_cli")
def program_cli_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProgramCli]:
    cli = ProgramCli(tmp_path_factory.mktemp("programs"))
    keys = cli.wasmforge("keygen", "--out", str(cli.root / "tester"))
    assert keys.returncode == 0, keys.stderr
    yield cli
