"""The main job, as a user would do it: for every language with a toolchain here,
`wasmforge new` -> `wasmforge build --sign-key` -> `wasmforge run --trust`, then a table.
Then the same languages as HTTP handlers, served with a fresh instance per request
(demo_serve.py), where the serving host is built. Then the hypervisor tier, where
`build --hyperlight` can package here (`setup.sh --tests` installs what it needs; the demo's
own set-up does not): each hello built again with `--hyperlight` and run with `--isolation
hypervisor` in Hyperlight VMs, on this host where its KVM runs them, else in
tests/support/nested_kvm.py's VM (a KVM nested in emulation: its times are emulation's).

Runs the real CLI in subprocesses. Keys, trust store and build cache live in a fresh
WASMFORGE_HOME under ./demo-out (the installed toolchains are shared), so the demo
never touches the user's own trust store and every build is a cold one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from demo_serve import demo_serve
from rich.console import Console
from rich.table import Table

from wasmforge.languages import get_driver
from wasmforge.languages.tools import toolchains_dir
from wasmforge.project import LANGUAGES

OUT = Path(__file__).resolve().parent.parent / "demo-out"
console = Console()


def wasmforge(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wasmforge", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=900)


def main() -> int:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir()
    env = dict(os.environ, WASMFORGE_TOOLCHAINS=str(toolchains_dir()),
               WASMFORGE_HOME=str(OUT / "home"))
    keys = wasmforge("keygen", "--out", str(OUT / "demo"), env=env, cwd=OUT)
    if keys.returncode != 0:
        console.print(keys.stderr)
        return 1
    table = Table(title="wasmforge: new -> build --sign-key -> run, per language")
    for column in ("language", "result", "build s", "component", "run ms"):
        table.add_column(column, no_wrap=True, min_width=len(column))
    table.add_column("guest output", no_wrap=True, overflow="ellipsis", max_width=48)
    failures = 0
    for language in LANGUAGES:
        status = get_driver(language).status()
        if not status.usable:
            table.add_row(language, "[yellow]no toolchain[/]", "-", "-", "-",
                          f"{status.problem} {status.remedy}".strip())
            continue
        row = demo_language(language, env)
        failures += row[1] != "[green]ok[/]"
        table.add_row(language, *row[1:])
        console.print(f"{language}: {row[1]}")
    console.print(table)
    built = [language for language in LANGUAGES if (OUT / f"hello-{language}" / "build").is_dir()]
    failures += demo_serve(built, OUT, env, wasmforge, console)
    failures += demo_hyperlight(built, env)
    return 1 if failures else 0


def demo_hyperlight(languages: list[str], env: dict[str, str]) -> int:
    """build --hyperlight, then run --isolation hypervisor in one go; the failures."""
    from wasmforge.runtime.probe import probe_hypervisor
    from wasmforge.toolchain.doctor import diagnose_hyperlight_build

    packaging = diagnose_hyperlight_build()
    if not packaging.usable:  # the demo's set-up leaves it out: `setup.sh --tests` has it
        console.print(f"[yellow]hypervisor tier not shown[/]: {packaging.problem} "
                      f"({packaging.remedy or 'see wasmforge doctor'})")
        return 0
    sys.path.insert(0, str(OUT.parent / "tests" / "support"))
    import nested_kvm

    probed = probe_hypervisor()
    nested = "" if probed.usable else nested_kvm.missing()
    if nested:
        console.print(f"[yellow]hypervisor tier not shown[/]: {probed.detail}; and no nested "
                      f"KVM ({nested})")
        return 0
    where = "this host" if probed.usable else "nested KVM (emulated)"
    table = Table(title=f"wasmforge build --hyperlight -> run --isolation hypervisor ({where})")
    for column in ("language", "result", "build s", "Hyperlight code", "run ms"):
        table.add_column(column, no_wrap=True, min_width=len(column))
    table.add_column("guest output", no_wrap=True, overflow="ellipsis", max_width=48)
    images, rows, failures = {}, {}, 0
    for language in languages:
        started = time.perf_counter()
        built = wasmforge("build", str(OUT / f"hello-{language}"), "--hyperlight",
                          "--sign-key", str(OUT / "demo.key"), "--json", env=env, cwd=OUT)
        build_s = f"{time.perf_counter() - started:.1f}"
        if built.returncode != 0:
            failures += 1
            rows[language] = ("[red]build failed[/]", build_s, "-", "-", last_line(built.stderr))
            continue
        images[language] = Path(json.loads(built.stdout)["image"])
        rows[language] = ("", build_s, f"{_aot_size(images[language]) / 1e6:.1f} MB", "", "")
    script = OUT / "hypervisor-runs.sh"
    script.write_text("".join(
        f"echo '=== begin {language}'\nstarted=$(date +%s%N)\n"
        f"{sys.executable} -m wasmforge run {image} --trust {OUT / 'demo.pub'} "
        f"--isolation hypervisor --env GREETING=Howdy -- wasmforge 2>&1\n"
        f"echo \"=== end {language} $? $(( ($(date +%s%N) - started) / 1000000 ))\"\n"
        for language, image in images.items()))
    console.print(f"running {len(images)} images in Hyperlight VMs ({where}) ...")
    if probed.usable:
        ran = subprocess.run(["sh", str(script)], capture_output=True, text=True, env=env,
                             timeout=1800)
        output = ran.stdout
    else:
        saved = dict(os.environ)
        os.environ.update(env)
        try:
            output = nested_kvm.run(f"sh {script}", timeout_s=1800).output
        finally:
            os.environ.clear()
            os.environ.update(saved)
    for language in images:
        begin, end = f"=== begin {language}\n", f"=== end {language} "
        if begin not in output or end not in output:
            failures += 1
            rows[language] = ("[red]no result[/]", *rows[language][1:3], "-",
                              last_line(output))
            continue
        text = output.split(begin, 1)[1].split(end, 1)[0]
        code, ms = output.split(end, 1)[1].split()[:2]
        failures += code != "0"
        rows[language] = ("[green]ok[/]" if code == "0" else f"[red]run exit {code}[/]",
                          *rows[language][1:3], ms,
                          text.strip().replace("\n", " / ") or "(no output)")
    for language, row in rows.items():
        table.add_row(language, *row)
    console.print(table)
    return failures


def _aot_size(image: Path) -> int:
    from wasmforge.image.model import HYPERLIGHT_AOT_MEDIA_TYPE
    from wasmforge.image.reader import load_image

    layer = load_image(image, allow_unsigned=True).layer(HYPERLIGHT_AOT_MEDIA_TYPE)
    return len(layer.data) if layer else 0


def demo_language(language: str, env: dict[str, str]) -> tuple[str, ...]:
    name = f"hello-{language}"
    project = OUT / name
    created = wasmforge("new", name, "--lang", language, "--dir", str(project), env=env,
                        cwd=OUT)
    if created.returncode != 0:
        return (language, "[red]new failed[/]", "-", "-", "-", last_line(created.stderr))
    started = time.perf_counter()
    built = wasmforge("build", str(project), "--sign-key", str(OUT / "demo.key"), "--json",
                      env=env, cwd=OUT)
    build_s = time.perf_counter() - started
    if built.returncode != 0:
        return (language, "[red]build failed[/]", f"{build_s:.1f}", "-", "-",
                last_line(built.stderr))
    result = json.loads(built.stdout)
    started = time.perf_counter()
    ran = wasmforge("run", result["image"], "--trust", str(OUT / "demo.pub"),
                    "--env", "GREETING=Howdy", "--", "wasmforge", env=env, cwd=OUT)
    run_ms = (time.perf_counter() - started) * 1000
    status = "[green]ok[/]" if ran.returncode == 0 else f"[red]run exit {ran.returncode}[/]"
    output = ran.stdout.strip().replace("\n", " / ") or last_line(ran.stderr)
    return (language, status, f"{build_s:.1f}", f"{result['component_size'] / 1e6:.2f} MB",
            f"{run_ms:.0f}", output)


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:160] if lines else "(no output)"


if __name__ == "__main__":
    sys.exit(main())
