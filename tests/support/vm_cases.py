"""The hypervisor tier's checks in a real Hyperlight VM, as a user runs them.

    python tests/support/vm_cases.py DIR

DIR holds what tests/guest/test_hyperlight_vm.py built on a host with the toolchains:
`tools.oci.tar` (the user guest with `build --hyperlight` code, signed), `plain.oci.tar`
(no Hyperlight code), `unsigned.oci.tar`, `key.pub`, `vmtools.py` (the operator's tools)
and `input/note.txt`. Run where Hyperlight VMs boot (a real KVM/MSHV host, or
tests/support/nested_kvm.py); needs only wasmforge and the backend, no toolchain. Each case runs
`wasmforge` in its own process; the results are printed as one JSON object between
RESULTS_BEGIN and RESULTS_END, for the test to judge. The `escape_*` cases try `..`, host
symlinks, host paths and writes past the mounts, around a host file holding SECRET; the
script judges their content itself (`escape_problems`: what reached the guest or landed on
the host), because only it can look at the host the VM ran on.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESULTS_BEGIN, RESULTS_END = "=== vm-cases results", "=== vm-cases end"
CASE_TIMEOUT_S = 120  # a case is a few seconds even in emulation


SECRET = "vm-cases-host-secret-40d7"  # the content no escape case may show


@dataclass(frozen=True)
class Bait:
    """Host files around the mounts that an escaping guest would reach."""

    root: Path  # holds secret.txt beside the two mounts
    ro: Path  # mounted read-only at /input; holds `outward` -> ../secret.txt
    rw: Path  # mounted read-write at /output


def bait() -> Bait:
    root = Path(tempfile.mkdtemp(prefix="vm-cases-bait-"))
    (root / "secret.txt").write_text(SECRET)
    ro, rw = root / "ro", root / "rw"
    ro.mkdir()
    rw.mkdir()
    (ro / "note.txt").write_text("inside")
    (ro / "outward").symlink_to("../secret.txt")
    (ro / "absolute").symlink_to(root / "secret.txt")
    return Bait(root, ro, rw)


def escape_cases(hv: list[str], b: Bait) -> dict[str, list[str]]:
    mounts = ["--mount", f"{b.ro}:/input:ro", "--mount", f"{b.rw}:/output"]
    return {f"escape_{name}": [*hv, *mounts, "--", *argv] for name, argv in {
        "dotdot_ro": ["read", "/input/../secret.txt"],
        "dotdot_rw": ["read", "/output/../secret.txt"],
        "host_link": ["read", "/input/outward"],
        "host_link_absolute": ["read", "/input/absolute"],
        "host_path": ["read", str(b.root / "secret.txt")],
        "etc": ["read", "/etc/passwd"],
        "write_ro": ["write", "/input/planted.txt"],
        "write_dotdot": ["write", "/output/../planted.txt"],
    }.items()}


def escape_problems(results: dict[str, Any], b: Bait) -> list[str]:
    """What an escape case showed or left on the host; empty when every case held."""
    host_passwd = Path("/etc/passwd").read_text().splitlines()[0]
    problems = []
    for name, case in results.items():
        if not name.startswith("escape_"):
            continue
        said = case["stdout"] + case["stderr"]
        verb = "write" if "write" in name else "read"
        if case["exit"] in (0, None) or not case["stdout"].startswith(f"{verb} denied: "):
            problems.append(f"{name}: not denied (exit {case['exit']}): {said[:200]!r}")
        if SECRET in said or host_passwd in said:
            problems.append(f"{name}: host content reached the guest")
    for planted in (b.ro / "planted.txt", b.root / "planted.txt"):
        if planted.exists():
            problems.append(f"a guest wrote {planted} on the host")
    return problems


def cases(d: Path, output: Path, b: Bait | None = None) -> dict[str, list[str]]:
    image, key = str(d / "tools.oci.tar"), str(d / "key.pub")
    hv = [image, "--trust", key, "--isolation", "hypervisor"]
    process = [image, "--trust", key, "--isolation", "process"]
    add = ["--tool", "add=vmtools:add"]
    run = {
        "hello": [*hv, "--env", "GREETING=howdy", "--", "a", "b c"],
        "exit": [*hv, "--", "exit", "7"],
        "fail": [*hv, "--", "fail"],
        "trap": [*hv, "--", "trap"],
        "loop": [*hv, "--timeout", "3", "--", "loop"],
        "bomb": [*hv, "--", "bomb"],
        "read_input": [*hv, "--mount", f"{d / 'input'}:/input:ro", "--", "read",
                       "/input/note.txt"],
        "read_host": [*hv, "--", "read", "/etc/hostname"],
        "write_output": [*hv, "--mount", f"{output}:/output", "--", "write",
                         "/output/result.txt"],
        "tool": [*hv, *add, "--", "tool", "add", '{"a": 2, "b": 3}'],
        "tool_unprovided": [*hv, *add, "--", "tool", "absent", "{}"],
        "tool_undeclared": [*hv, *add, "--", "tool", "sub", "{}"],
        "tool_fails": [*hv, *add, "--tool", "boom=vmtools:boom", "--", "tool", "boom", "{}"],
        "tool_flag_undeclared": [*hv, "--tool", "sub=vmtools:sub", "--", "count"],
        "auto": [image, "--trust", key, "--", "count"],
        "auto_plain": [str(d / "plain.oci.tar"), "--trust", key, "--", "count"],
        "unsigned": [str(d / "unsigned.oci.tar"), "--insecure-allow-unsigned",
                     "--isolation", "hypervisor", "--", "count"],
    }
    # The same image in the process tier: what the VM must agree with.
    for name in ("hello", "exit", "fail", "trap"):
        run[f"{name}_process"] = [*process, *run[name][len(hv):]]
    if b is not None:
        run.update(escape_cases(hv, b))
    return {name: ["run", *argv] for name, argv in run.items()}


def run_cli(argv: list[str], env: dict[str, str]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-m", "wasmforge", *argv], capture_output=True,
                              text=True, env=env, timeout=CASE_TIMEOUT_S)
        code, out, err = done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired as late:
        code, out, err = None, _text(late.stdout), _text(late.stderr) + "(vm-cases: timed out)"
    return {"exit": code, "stdout": out, "stderr": err,
            "ms": round((time.perf_counter() - started) * 1000, 1)}


def _text(data: bytes | str | None) -> str:
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data or ""


def backend_calls(d: Path, calls: int) -> dict[str, Any]:
    """Calls of one loaded VM through the backend: each starts from the snapshot."""
    from wasmforge.image.reader import load_image
    from wasmforge.runtime.backend import Grants, Invocation, RunLimits, Stdio
    from wasmforge.runtime.hypervisor import HypervisorBackend, with_hyperlight_code

    image = load_image(d / "tools.oci.tar", trust=(d / "key.pub",))
    backend = HypervisorBackend()
    outputs, samples = [], []
    with tempfile.TemporaryFile("w+") as sink:
        invocation = with_hyperlight_code(image, Invocation(
            name="hello", component=b"", digest="sha256:vm-cases",
            grants=Grants(args=("count",)), limits=RunLimits(memory_bytes=32 << 20,
                                                             timeout_s=30.0),
            stdio=Stdio(stdout=sink.fileno())))
        try:
            for _ in range(calls):
                started = time.perf_counter()
                outcome = backend.run(invocation)
                samples.append(time.perf_counter() - started)
                outputs.append((outcome.exit_code, outcome.message))
        finally:
            backend.close()
        sink.seek(0)
        lines = [line for line in sink.read().splitlines() if line.startswith("count")]
    return {"outcomes": outputs, "counts": lines,
            "first_ms": round(samples[0] * 1000, 1),
            "after_restore_p50_ms": round(statistics.median(samples[1:]) * 1000, 1)}


def main() -> int:
    d = Path(sys.argv[1]).resolve()
    home = Path(tempfile.mkdtemp(prefix="vm-cases-home-"))
    env = {**os.environ, "WASMFORGE_HOME": str(home),
           "PYTHONPATH": os.pathsep.join([str(d), os.environ.get("PYTHONPATH", "")])}
    os.environ.update(env)
    results: dict[str, Any] = {}
    doctor = run_cli(["doctor", "--json"], env)
    results["doctor"] = {**doctor, "tiers": json.loads(doctor["stdout"])["tiers"]
                         if doctor["exit"] == 0 else None}
    output = Path(tempfile.mkdtemp(prefix="vm-cases-output-"))
    b = bait()
    for name, argv in cases(d, output, b).items():
        results[name] = run_cli(argv, env)
        print(f"vm-cases: {name}: exit {results[name]['exit']} "
              f"in {results[name]['ms']} ms", file=sys.stderr, flush=True)
    written = output / "result.txt"
    results["write_output"]["host_file"] = written.read_text() if written.exists() else None
    results["tool_calls"] = (d / "calls.log").read_text().splitlines() \
        if (d / "calls.log").exists() else []
    results["backend"] = backend_calls(d, 6)
    # the judge (test_hyperlight_vm.py) asserts this list is empty
    results["escape_problems"] = escape_problems(results, b)
    if SECRET in (results["read_host"]["stdout"] + results["read_host"]["stderr"]):
        results["escape_problems"].append("read_host: host content reached the guest")
    print(RESULTS_BEGIN)
    print(json.dumps(results))
    print(RESULTS_END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
