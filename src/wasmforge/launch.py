"""The `wasmforge` command's front door: a plain `run` starts without typer, click or rich.

`wasmforge run` is the command whose start-up users feel: typer, click and rich cost it
about 60 ms on every start (`python3 -X importtime`). A `run` command line made only of
options this parser knows goes straight to runtime/run.py, with the same meaning as the
typer command in cli.py; anything else (other commands, --help, an unknown option, a value
that does not convert) goes to cli.py, which owns usage errors and every other command.
Like cli.py, this is part of the CLI: it writes notices and the one-sentence error.
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

from wasmforge.errors import WasmforgeError

_REPEATED = {"--trust": "trust", "--mount": "mounts", "--env": "env", "--tool": "tools"}
_SINGLE = {"--isolation": "isolation", "--timeout": "timeout_s", "--memory": "memory",
           "--fuel": "fuel"}
_FLAGS = {"--insecure-allow-unsigned": "allow_unsigned", "--verbose": "verbose",
          "-v": "verbose"}
_CONVERT: dict[str, Any] = {"timeout_s": float, "fuel": int}


def parse_run(argv: list[str]) -> dict[str, Any] | None:
    """RunRequest's fields for `run ...`, or None when cli.py must handle the line."""
    if not argv or argv[0] != "run":
        return None
    fields: dict[str, Any] = {"trust": [], "mounts": [], "env": [], "tools": []}
    positional: list[str] = []
    items = iter(argv[1:])
    for item in items:
        if item == "--":
            positional.extend(items)
            break
        if not item.startswith("-") or item == "-":
            positional.append(item)
            continue
        name, has_value, value = item.partition("=")
        if name in _FLAGS and not has_value:
            fields[_FLAGS[name]] = True
            continue
        key = _REPEATED.get(name) or _SINGLE.get(name)
        if key is None or (not has_value and (value := next(items, None)) is None):
            return None
        if key in _REPEATED.values():
            fields[key].append(value)
        elif not _store(fields, key, value):
            return None
    if not positional:
        return None
    fields["image"], fields["args"] = positional[0], tuple(positional[1:])
    return fields


def _store(fields: dict[str, Any], key: str, value: str) -> bool:
    try:
        fields[key] = _CONVERT.get(key, str)(value)
    except ValueError:
        return False
    return True


def _notice(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def run_command(fields: dict[str, Any]) -> int:
    from pathlib import Path

    from wasmforge.runtime.run import RunRequest, run_image

    fields = {**fields, "trust": tuple(Path(p) for p in fields["trust"]),
              **{key: tuple(fields[key]) for key in ("mounts", "env", "tools")}}
    try:
        return run_image(RunRequest(**fields), notice=_notice)
    except WasmforgeError as failure:
        _notice(f"error: {failure}")
        return failure.exit_code
    except KeyboardInterrupt:
        return 130


def main(argv: list[str] | None = None) -> int:
    """The console script; with `argv` (tests) it returns the exit code instead."""
    fields = parse_run(sys.argv[1:] if argv is None else argv)
    if fields is None:
        from wasmforge.cli import main as full

        return full(argv)
    code = run_command(fields)
    if argv is None:
        exit_now(code)
    return code


def exit_now(code: int) -> NoReturn:
    """End a finished run without the interpreter's teardown.

    Freeing wasmtime's engine, store and compiled code and then every module costs a
    one-shot run 40-60 ms of CPU (measured) for nothing the kernel does not do anyway on
    exit. atexit handlers (the process tier stops its warm workers there) still run.
    """
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):  # None when the descriptor was closed
        try:
            if stream is not None:
                stream.flush()
        except OSError:  # a closed pipe: what the interpreter's own exit reports for it
            code = code or 120
    os._exit(code)
