"""The composed Hyperlight executor, proven under in-process wasmtime with a test host for
hyperlight:sandbox/tools (the same calls hyperlight-sandbox's wasm backend makes)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from executor_harness import ExecutionResult, run_executor_in_wasmtime

from wasmforge.guest import executor as ex
from wasmforge.runtime.host_tools import dispatcher

pytestmark = pytest.mark.slow


def _wit(path: Path) -> str:
    return subprocess.run(["wasm-tools", "component", "wit", str(path)], check=True,
                          capture_output=True, text=True).stdout


def _world_lines(wit: str) -> list[str]:
    body = wit.split("world root {", 1)[1].split("}", 1)[0]
    return [line.strip().rstrip(";") for line in body.splitlines() if line.strip()]


class Host:
    """Runs the composed executor; records the tool calls that reached the host."""

    def __init__(self, composed: Path, tmp: Path) -> None:
        self.composed = composed.read_bytes()
        self.tmp = tmp
        self.calls: list[tuple[str, str]] = []

    def add(self, args_json: str) -> str:
        self.calls.append(("add", args_json))
        args = json.loads(args_json)
        return json.dumps(args["a"] + args["b"])

    def sub(self, args_json: str) -> str:  # implemented but never declared
        self.calls.append(("sub", args_json))
        return "0"

    def run(self, request: str, declared: tuple[str, ...] = ("add",)
            ) -> tuple[ExecutionResult, str, str]:
        dispatch = dispatcher(declared, {"add": self.add, "sub": self.sub})
        result = run_executor_in_wasmtime(self.composed, request, dispatch, self.tmp)
        assert not list(self.tmp.iterdir())  # the captured output was taken away
        return result, result.stdout, result.stderr


@pytest.fixture
def host(composed: Path, tmp_path: Path) -> Host:
    return Host(composed, tmp_path)


def test_executor_parts_validate(executor: ex.Executor) -> None:
    for part in (executor.state, executor.shim):
        subprocess.run(["wasm-tools", "validate", str(part)], check=True)
    assert "export hyperlight:sandbox/executor" in _wit(executor.shim)
    state = _world_lines(_wit(executor.state))
    v = executor.wasi_version
    assert [line for line in state if line.startswith("export")] == [
        f"export {ex.REQUEST_INTERFACE}", f"export wasi:cli/environment@{v}",
        f"export wasi:cli/stdout@{v}", f"export wasi:cli/stderr@{v}",
        f"export wasi:cli/exit@{v}"]


def test_composed_exports_executor_and_imports_only_what_the_backend_hosts(
        composed: Path) -> None:
    subprocess.run(["wasm-tools", "validate", str(composed)], check=True)
    lines = _world_lines(_wit(composed))
    assert [line for line in lines if line.startswith("export")] == [
        f"export {ex.EXECUTOR_INTERFACE}"]
    imports = [line.removeprefix("import ") for line in lines if line.startswith("import")]
    assert ex.TOOLS_INTERFACE in imports
    for name in imports:
        assert name == ex.TOOLS_INTERFACE or (
            name.startswith("wasi:") and "@0.2." in name), name
    # Served inside the composition, never by the host:
    assert not any(name.startswith(("wasi:cli/environment", "wasi:cli/run", "wasi:cli/stdout",
                                    "wasi:cli/stderr", "wasi:cli/exit", "wasmforge:"))
                   for name in imports)


def test_run_returns_the_users_output_and_exit_code(host: Host) -> None:
    request = ex.request_json(["hello", "x", "y z", "ünï"], [("GREETING", "hi there")])
    result, out, err = host.run(request)
    assert result.exit_code == 0
    assert out == "hello from the guest: x y z ünï\nGREETING=hi there\n"
    assert err == ""


def test_failure_reaches_the_host_as_exit_code_1(host: Host) -> None:
    # The guest's exit(3) arrives as failure: WASI 0.2's wasi:cli/exit carries no code.
    # The executor records it and traps (exit must not return); the host reads the record.
    result, out, err = host.run(ex.request_json(["hello", "fail"], []))
    assert result.exit_code == 1
    assert err == "failing on request\n"
    assert out.startswith("hello from the guest: fail\n")


def test_a_declared_tool_is_called(host: Host) -> None:
    request = ex.request_json(["hello", "tool", "add", '{"a": 3, "b": 4}'], [])
    result, out, _ = host.run(request)
    assert result.exit_code == 0
    assert out.endswith("tool add: ok 7\n")
    assert host.calls == [("add", '{"a": 3, "b": 4}')]


def test_an_undeclared_tool_is_refused_and_never_runs(host: Host) -> None:
    request = ex.request_json(["hello", "tool", "sub", "{}"], [])
    result, out, _ = host.run(request)
    assert out.endswith("tool sub: err tool 'sub' is not declared for this image\n")
    assert result.exit_code == 1
    assert host.calls == []


def test_a_failing_tool_returns_its_error_to_the_guest(composed: Path, tmp_path: Path) -> None:
    def broken(_args: str) -> str:
        raise ValueError("no such account")

    result = run_executor_in_wasmtime(
        composed.read_bytes(), ex.request_json(["hello", "tool", "add", "{}"], []),
        dispatcher(("add",), {"add": broken}), tmp_path)
    assert "tool add: err tool 'add' failed: no such account" in result.stdout
    assert result.exit_code == 1


def test_large_output_is_captured_whole(host: Host) -> None:
    result, out, err = host.run(ex.request_json(["hello", "big", "200000"], []))
    assert result.exit_code == 0
    body = out.split("\n")[2]
    assert len(body) == 200000
    assert body == ("abcdefghijklmnopqrstuvwxyz" * 8000)[:200000]
    assert err.split() == [str(n) for n in range(1000, 200001, 1000)]


def test_empty_request_only_loads(host: Host) -> None:
    result, out, err = host.run("")
    assert (result.exit_code, out, err) == (0, "", "")


@pytest.mark.parametrize("request_text", [
    "not json", "[]", '{"args": [1]}', '{"args": ["a"], "other": 1}', '{"env": [["K"]]}',
    '{"args": ["\\ud800"]}', '{"args": ["a"]} trailing',
])
def test_a_malformed_request_is_refused_without_running(host: Host, request_text: str) -> None:
    result, out, err = host.run(request_text)
    assert result.exit_code == ex.BAD_REQUEST_EXIT
    assert err and "\n" not in err  # one line saying what is wrong with the request
    assert out == ""


def test_json_escapes_reach_the_guest(host: Host) -> None:
    argv = ["hello", 'quote " back \\ tab\t', "emoji \U0001F600"]
    result, out, _ = host.run(ex.request_json(argv, [("GREETING", "new\nline")]))
    assert result.exit_code == 0
    assert out == 'hello from the guest: quote " back \\ tab\t emoji \U0001F600\n' \
                  "GREETING=new\nline\n"


def test_a_component_without_wasi_cli_run_is_refused(executor: ex.Executor) -> None:
    from wasmforge.errors import BuildFailed

    with pytest.raises(BuildFailed, match="exports no wasi:cli/run"):
        ex.wasi_version_of(executor.state)


def test_a_component_importing_few_interfaces_composes_and_runs(
        executor: ex.Executor, jco: Path, tmp_path: Path) -> None:
    """A bare `return 2` imports no environment or stdout: state serves only what is used."""
    import sys

    (tmp_path / "bare.c").write_text("int main(void) { return 2; }\n")
    core, user = tmp_path / "bare.core.wasm", tmp_path / "bare.wasm"
    subprocess.run([sys.executable, "-m", "ziglang", "cc", "-target", "wasm32-wasi", "-O2",
                    str(tmp_path / "bare.c"), "-o", str(core)], check=True)
    adapter = jco / "lib" / "wasi_snapshot_preview1.command.wasm"
    subprocess.run(["wasm-tools", "component", "new", str(core), "--adapt",
                    f"wasi_snapshot_preview1={adapter}", "-o", str(user)], check=True)
    assert f"wasi:cli/environment@{executor.wasi_version}" not in ex.imports_of(user)
    composed = ex.compose(executor, user, tmp_path / "composed.wasm")
    output = tmp_path / "output"
    output.mkdir()
    result = run_executor_in_wasmtime(composed.read_bytes(), ex.request_json(["bare"], []),
                                      dispatcher((), {}), output)
    assert result == ExecutionResult("", "", 1)  # exit(2) arrives as failure


def test_the_executor_is_built_for_a_wasi_release_jco_does_not_ship(
        jco: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A component built against WASI 0.2.0 (what hyperlight-sandbox 0.8.0's host names)
    gets an executor whose names say 0.2.0, from the newest 0.2 WIT jco has."""
    from wasmforge.toolchain.hyperlight import wasi_wit

    monkeypatch.setenv("WASMFORGE_JCO", str(jco))
    source = wasi_wit("0.2.0")
    assert source.name != "0.2.0" and source.name.startswith("0.2.")
    built = ex.build_executor(tmp_path, source, "0.2.0")
    exports = [line for line in _world_lines(_wit(built.state)) if line.startswith("export")]
    assert "export wasi:cli/environment@0.2.0" in exports
    assert "import wasi:cli/run@0.2.0" in _world_lines(_wit(built.shim))
