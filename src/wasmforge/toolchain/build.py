"""`wasmforge build`: source -> component -> capability check -> signed OCI image.

The steps, each a function of its own part:

    driver.build            languages/<lang>   core module or component
    adapter.componentize    toolchain/adapter  core module + WASI preview1 command adapter
    validate                toolchain/validate wasm-tools validate, the command world
    enforce_capabilities    toolchain/capcheck imports covered by [capabilities] (or denied)
    extra layers            toolchain/precompile, toolchain/hyperlight
    write_image, sign       image/

Outputs are written to temporary files and renamed into place, so a failed build
leaves `build/` as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from wasmforge import __version__
from wasmforge.image.model import Layer, ProvenanceInputs
from wasmforge.languages import BuildContext, BuildOutput, LanguageDriver, get_driver
from wasmforge.project import Project, load_project
from wasmforge.toolchain import cache
from wasmforge.toolchain.validate import (
    check_command_world,
    check_http_world,
    validate_component,
    world_of,
)

STATE_FILE = ".wasmforge-build.json"
Progress = Callable[[str], None]


@dataclass
class BuildResult:
    name: str
    language: str
    component: Path
    image: Path
    digest: str
    component_size: int
    cached: bool
    signed: bool
    seconds: float
    key: str
    imports: list[str] = field(default_factory=list)
    exports: list[str] = field(default_factory=list)
    toolchains: dict[str, str] = field(default_factory=dict)
    steps: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["component"] = str(self.component)
        data["image"] = str(self.image)
        return data


def build_project(root: Path, *, sign_key: Path | None = None, hyperlight: bool = False,
                  progress: Progress | None = None, verbose: bool = False,
                  notice: Progress | None = None) -> BuildResult:
    """`notice` hears what the user must know (a damaged cache entry was rebuilt)."""
    started = time.perf_counter()
    say = progress or (lambda _message: None)
    project = load_project(root)
    driver = get_driver(project.language)
    sources = cache.source_digests(project.root,
                                   [project.manifest_path, *driver.source_files(project)])
    toolchains = driver.toolchain_versions()
    if hyperlight:  # the AOT layer is only as current as the backend and precompiler
        from wasmforge.toolchain.hyperlight import hyperlight_versions

        toolchains = {**toolchains, **hyperlight_versions(project)}
    if project.world == "http":  # its binding generators and glue (languages/http/)
        from wasmforge.languages.http import versions as http_versions

        toolchains = {**toolchains, **http_versions(project.language)}
    options = {"hyperlight": hyperlight, "world": project.world}
    key = cache.build_key(wasmforge_version=f"{__version__}+{cache.build_code_fingerprint()}",
                          language=project.language,
                          sources=sources, toolchains=toolchains, options=options)
    signer = _signer_identity(sign_key)

    if _outputs_current(project, key, signer):
        entry_result = json.loads((project.build_dir / STATE_FILE).read_text())["result"]
        _ready_to_run(project, say, entry_result)
        return _result(project, entry_result, key, cached=True, signed=signer is not None,
                       started=started)

    entry = cache.lookup(key, notice)
    cached = entry is not None
    if entry is None:
        entry = _build_into_cache(project, driver, key, sources, toolchains, hyperlight,
                                  say, verbose)
    say("installing outputs")
    cache.install_copy(entry.component, project.component_path)
    cache.install_copy(entry.image, project.image_path)
    if sign_key is not None:
        say("signing")
        from wasmforge.image.signing import sign_image

        sign_image(project.image_path, sign_key)
    result = entry.result()
    _write_state(project, key, signer, result)
    _ready_to_run(project, say, result)
    _check_as_run_does(project)
    return _result(project, result, key, cached=cached, signed=signer is not None,
                   started=started)


def _build_into_cache(project: Project, driver: LanguageDriver, key: str,
                      sources: dict[str, str], toolchains: dict[str, str], hyperlight: bool,
                      say: Progress, verbose: bool) -> cache.CacheEntry:
    build_started = _epoch()
    steps: dict[str, float] = {}
    cache.sweep_stale()  # folders of builds that were killed
    with cache.work_dir(project.name) as work:
        say(f"compiling {project.language}")
        with _timed(steps, "compile"):
            output = _compile(project, driver, BuildContext(work_dir=work / "driver",
                                                            verbose=verbose))
        component_path = work / "component.wasm"
        if output.kind == "core":
            say("adapting the core module to a component")
            from wasmforge.toolchain.adapter import componentize

            with _timed(steps, "adapt"):
                componentize(output.path, component_path)
        else:
            component_path.write_bytes(output.path.read_bytes())

        say("checking capabilities")
        with _timed(steps, "capabilities"):
            component = _enforce(project, component_path.read_bytes(), work)
            component_path.write_bytes(component)
            validate_component(component_path)
            wit = world_of(component_path)
            if project.world == "http":
                check_http_world(wit, component_path)
            else:
                check_command_world(wit, component_path)

        layers = _extra_layers(project, component, work, hyperlight, say, steps)

        say("writing the image")
        from wasmforge.image.layout import write_image

        image_path = work / "image.oci.tar"
        provenance = ProvenanceInputs(sources=sources, toolchains=toolchains,
                                      wasmforge_version=__version__,
                                      build_started=build_started, build_finished=_epoch())
        with _timed(steps, "image"):
            digest = write_image(image_path, project=project, component=component, wit=wit,
                                 extra_layers=layers, provenance=provenance)
        result = {
            "digest": digest, "component_size": len(component), "imports": list(wit.imports),
            "exports": list(wit.exports), "toolchains": toolchains, "steps": steps,
        }
        return cache.store(key, component_path, image_path, result)


def _compile(project: Project, driver: LanguageDriver, ctx: BuildContext) -> BuildOutput:
    if project.world == "http":  # wasi:http/proxy handlers: languages/http/
        from wasmforge.languages.http import build as build_http

        return build_http(project, ctx)
    return driver.build(project, ctx)


def _enforce(project: Project, component: bytes, work: Path) -> bytes:
    from wasmforge.toolchain.capcheck import enforce_capabilities

    return enforce_capabilities(component, project.capabilities,
                                deny_ungranted=project.build.deny_ungranted,
                                work_dir=work / "capcheck", where=str(project.manifest_path),
                                handler=project.world == "http")


def _extra_layers(project: Project, component: bytes, work: Path, hyperlight: bool,
                  say: Progress, steps: dict[str, float]) -> list[Layer]:
    layers: list[Layer] = []
    if project.build.precompile:
        say("precompiling for wasmtime")
        from wasmforge.toolchain.precompile import cache_compiled, precompile_layer

        with _timed(steps, "precompile"):  # the same code serves this machine's runs
            layers.append(precompile_layer(component, code=cache_compiled(component)))
    if hyperlight:
        say("composing the Hyperlight executor and AOT code")
        from wasmforge.toolchain.hyperlight import hyperlight_layers

        with _timed(steps, "hyperlight"):
            layers.extend(hyperlight_layers(component, project, work / "hyperlight"))
    return layers


def _ready_to_run(project: Project, say: Progress, result: dict[str, object]) -> None:
    """Leave the component compiled in the run's cache, so that the first `run` of the
    image starts as fast as later ones (compiling a Python or JavaScript component takes
    seconds). The time it took is reported as the step "run-compile"."""
    from wasmforge.toolchain.precompile import cache_compiled, is_cached

    component = project.component_path.read_bytes()
    if is_cached(component):
        return
    say("compiling for the first run")
    steps = result.setdefault("steps", {})
    assert isinstance(steps, dict)
    with _timed(steps, "run-compile"):
        cache_compiled(component)


def _check_as_run_does(project: Project) -> None:
    """Read the image as `run` will: its capabilities are validated, and a signature by a
    key in the trust store is checked, once here; both results are remembered, so the
    first run imports neither jsonschema nor cryptography. A refusal is `run`'s to say."""
    from wasmforge.errors import WasmforgeError
    from wasmforge.image.reader import load_image

    with contextlib.suppress(WasmforgeError):
        load_image(project.image_path, allow_unsigned=True)


class _timed:
    def __init__(self, steps: dict[str, float], name: str) -> None:
        self.steps, self.name = steps, name

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.steps[self.name] = round(time.perf_counter() - self.start, 4)


def _epoch() -> int:
    """Build times honour SOURCE_DATE_EPOCH, defaulting to 0 so builds are reproducible."""
    return int(os.environ.get("SOURCE_DATE_EPOCH", "0") or 0)


def _signer_identity(sign_key: Path | None) -> str | None:
    if sign_key is None:
        return None
    from wasmforge.errors import WasmforgeError

    if not sign_key.is_file():
        raise WasmforgeError(f"signing key {sign_key} does not exist",
                             fix="create one with `wasmforge keygen --out PREFIX`")
    return cache.sha256_file(sign_key)


def _outputs_current(project: Project, key: str, signer: str | None) -> bool:
    state_path = project.build_dir / STATE_FILE
    try:
        state = json.loads(state_path.read_text())
        return (state["key"] == key and state["signer"] == signer
                and _stamp(project.component_path) == state["component"]
                and _stamp(project.image_path) == state["image"])
    except (OSError, ValueError, KeyError):
        return False


def _stamp(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def _write_state(project: Project, key: str, signer: str | None,
                 result: dict[str, object]) -> None:
    state = {"key": key, "signer": signer, "component": _stamp(project.component_path),
             "image": _stamp(project.image_path), "result": result}
    tmp = project.build_dir / f".{STATE_FILE}.tmp"
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True))
    os.replace(tmp, project.build_dir / STATE_FILE)


def _result(project: Project, result: dict, key: str, *, cached: bool, signed: bool,
            started: float) -> BuildResult:
    return BuildResult(
        name=project.name, language=project.language, component=project.component_path,
        image=project.image_path, digest=str(result["digest"]),
        component_size=int(result["component_size"]), cached=cached, signed=signed,
        seconds=round(time.perf_counter() - started, 4), key=key,
        imports=list(result.get("imports", [])), exports=list(result.get("exports", [])),
        toolchains=dict(result.get("toolchains", {})), steps=dict(result.get("steps", {})),
    )

