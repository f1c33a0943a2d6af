"""The Python driver: componentize-py with generated glue, built through build_project and
run in wasmtime-py (WASIp2: args, one env var, stdin, no preopens)."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable

import pytest
from conftest import GuestRunner

from wasmforge.languages.python import driver
from wasmforge.toolchain.build import BuildResult

pytestmark = pytest.mark.slow

MAIN = '''\
import os
import sys

import helper
from ns.mod import VALUE
from pkg.sub import shout
from tabulate import tabulate

print("args:", sys.argv[1:])
print("greeting:", os.environ.get("GREETING"), "other:", os.environ.get("OTHER"))
print("stdin:", sys.stdin.read().strip())
print("local:", helper.double(21), shout("hi"), VALUE)
print(tabulate([["a", 1]], tablefmt="plain"))
try:
    open("/etc/hostname").read()
    print("read: allowed")
except OSError as err:
    print("read: denied", type(err).__name__)
if sys.argv[1:2] == ["fail"]:
    sys.exit(3)
if sys.argv[1:2] == ["boom"]:
    raise ValueError("kaboom")
print("__name__:", __name__)
import datetime  # noqa: E402  (strptime imports _strptime lazily, inside the call)
print("date:", datetime.datetime.strptime("2024-01-02", "%Y-%m-%d").date())
'''
FILES = {
    "main.py": MAIN,
    "helper.py": "def double(x):\n    return 2 * x\n",
    "pkg/__init__.py": "# a regular package\n",
    "ns/mod.py": "VALUE = 'namespace'\n",
    "pkg/sub.py": "def shout(text):\n    return text.upper() + '!'\n",
    "requirements.txt": "tabulate==0.9.0\n",
}


@pytest.fixture(scope="session")
def py_app(build_lang: Callable[[str, str, dict[str, str]], BuildResult]) -> BuildResult:
    return build_lang("python", "pyapp", FILES)


def test_script_runs_at_run_time_with_args_env_and_stdin(py_app: BuildResult,
                                                          guest_runner: GuestRunner) -> None:
    run = guest_runner(py_app.component, ["one", "two"], env={"GREETING": "hey"},
                        stdin="from stdin\n")
    assert run.ok, run.stderr
    lines = run.stdout.splitlines()
    assert "args: ['one', 'two']" in lines
    assert "greeting: hey other: None" in lines
    assert "stdin: from stdin" in lines
    assert "__name__: __main__" in lines
    assert "date: 2024-01-02" in lines


def test_local_modules_and_packages_are_bundled(py_app: BuildResult,
                                                guest_runner: GuestRunner) -> None:
    run = guest_runner(py_app.component)
    assert "local: 42 HI! namespace" in run.stdout.splitlines()


def test_pure_python_requirement_is_bundled(py_app: BuildResult,
                                            guest_runner: GuestRunner) -> None:
    run = guest_runner(py_app.component)
    assert "a  1" in run.stdout.splitlines()


def test_uncaught_exception_prints_traceback_and_fails(py_app: BuildResult,
                                                       guest_runner: GuestRunner) -> None:
    run = guest_runner(py_app.component, ["boom"])
    assert not run.ok
    assert "Traceback (most recent call last)" in run.stderr
    assert 'File "main.py", line 22' in run.stderr
    assert "ValueError: kaboom" in run.stderr
    assert "wasmforge_main" not in run.stderr


def test_host_site_packages_stay_out_of_the_component(py_app: BuildResult) -> None:
    # componentize-py mounts the site-packages of $VIRTUAL_ENV (else of the host's python3)
    # while it pre-initialises: the importer's listings of them reached the snapshot.
    host_package = f"wasmtime-{importlib.metadata.version('wasmtime')}.dist-info"
    assert host_package.encode() not in py_app.component.read_bytes()


def test_component_exports_run_and_carries_pinned_versions(py_app: BuildResult) -> None:
    assert any(e.startswith("wasi:cli/run@") for e in py_app.exports)
    assert driver.toolchain_versions()["componentize-py"] == "0.25.1"
