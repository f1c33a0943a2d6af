"""Python: an ordinary script `main.py` made into a wasi:cli command with componentize-py.

The user writes no bindings: wasmforge generates glue (glue/python_main.py) that runs the
script as `__main__` inside the wasi:cli/run export. Dependencies listed in
`requirements.txt` are resolved for the guest's CPython 3.14 (python_deps.py: pure wheels,
optional C speedups left out) into the build's scratch folder and bundled with their data
files, and the codecs a guest looks up by name are loaded (python_codecs.py).

Python builds are not byte-reproducible, and cannot be made so from outside componentize-py
0.25.1. It pre-initialises CPython 3.14 under wasmtime's WASI with the host's real entropy,
clocks and files, then keeps the interpreter's whole linear memory (13.7 MB of data segments
in the main core module) as the component's initial state, so everything start-up read
is in it:

- entropy: the str hash secret (24 bytes of random_get at interpreter start) changes every
  string's cached hash and every dict and set layout, hence the allocation order; two clean
  builds of the template differ in ~29,000 ranges, 6.9 MB of that memory. wasi-libc's
  arc4random state and the `random` module's state differ too. The guest's environment is
  fixed by componentize-py (PYTHONHOME, PYTHONPATH, PYTHONUNBUFFERED only): PYTHONHASHSEED
  cannot be passed to it.
- clocks: the wall and monotonic clocks read during start-up.
- file times: CPython's importer stats the standard library, the bindings and helper modules
  componentize-py extracts or writes into new temporary folders at build time, and the
  `__pycache__` folders it writes itself. Those times (folder mtimes, every file's atime and
  ctime) stay in FileFinder caches, in freed float and int objects and on the C stack, and
  the uninitialised padding of objects allocated later picks them up.

Fixing entropy and clocks in the componentize-py process (what languages/repro.py does for
JavaScript) leaves 45 ranges, 277 bytes: floats and 32-bit ints holding the build's Unix
time, and str headers whose padding bytes came from them. wasmtime reads file metadata with
raw statx system calls, which no preloaded library can intercept, and no program can set a
ctime. A fix needs componentize-py itself: fixed WASI entropy, clocks and file times for
pre-initialisation, or an allocator that scrubs freed memory (PYTHONMALLOC=malloc_debug) in
the guest's environment (upstream: bytecodealliance/componentize-py#247).
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from importlib import resources
from pathlib import Path

from wasmforge.errors import BuildFailed
from wasmforge.languages import glue
from wasmforge.languages.base import BuildContext, BuildOutput, LanguageDriver
from wasmforge.languages.glue import wit
from wasmforge.languages.python_codecs import codecs
from wasmforge.languages.python_deps import GUEST_PYTHON, NATIVE_SUFFIXES, install_for_guest
from wasmforge.languages.tools import (
    Requirement,
    project_files,
    python_with,
    require_pip,
    run_tool,
)
from wasmforge.project import Project

COMPONENTIZE_PY = Requirement("pip", "componentize-py", "0.25.1")
ENTRY = "main.py"
REQUIREMENTS = "requirements.txt"
_SKIP_DIRS = frozenset({"build", "__pycache__", "node_modules", "venv", ".venv",
                        "site-packages"})
# In the installed dependencies every folder is code (a package may have a `build/`).
_DEPS_SKIP_DIRS = frozenset({"__pycache__"})
# Never preloaded: GUI, test and tooling packages that no command-line script needs.
_STDLIB = frozenset(sys.stdlib_module_names) - {
    "tkinter", "turtle", "turtledemo", "idlelib", "test", "unittest", "lib2to3", "ensurepip",
    "pydoc", "pydoc_data", "venv", "distutils", "msilib", "winreg", "winsound", "_tkinter",
    "multiprocessing", "concurrent", "asyncio", "curses", "dbm", "sqlite3", "xmlrpc"}
# Loaded only when the user's own code imports them: the standard library reaches these
# lazily for debugging, archives or compression, and they would add megabytes to every build.
_NOT_TRANSITIVE = frozenset({
    "pdb", "bdb", "doctest", "code", "codeop", "cmd", "tarfile", "zipfile", "gzip", "bz2",
    "lzma", "readline", "tracemalloc", "py_compile", "dis", "argparse", "difflib", "shutil",
    "pickle", "_pickle", "inspect", "ast", "tokenize", "glob", "gettext"})
# Sources, stubs and markers: never read by a running program.
_NOT_DATA = frozenset({".py", ".pyc", ".pyi", ".pyx", ".pxd", ".c", ".h", ".cpp", ".typed"})
_RUN_CPY = "import sys, componentize_py; sys.argv[0] = 'componentize-py'; " \
           "sys.exit(componentize_py.script())"


class PythonDriver(LanguageDriver):
    name = "python"
    entry_file = ENTRY

    def requirements(self) -> list[Requirement]:
        return [COMPONENTIZE_PY, wit.JCO]

    def status_extras(self) -> dict[str, str]:
        return {"wasi": wit.wasi_version(self.name)[0]}

    def source_files(self, project: Project) -> list[Path]:
        files = list(_python_files(project.root))
        if (project.root / REQUIREMENTS).is_file():
            files.append(project.root / REQUIREMENTS)
        return sorted(files)

    def toolchain_versions(self) -> dict[str, str]:
        return {**super().toolchain_versions(), "guest-python": GUEST_PYTHON,
                "wasmforge-glue": glue.digest("python_main.py")}

    def build(self, project: Project, ctx: BuildContext) -> BuildOutput:
        target = require_pip(COMPONENTIZE_PY, self.name)
        entry = self.entry(project, "the script the component runs")
        work = ctx.work_dir
        work.mkdir(parents=True, exist_ok=True)
        wit.command_world(work / "wit", self.name)

        modules = _modules(project.root, skip=entry)
        deps = _install_dependencies(project.root, work / "deps")
        data: dict[str, bytes] = {}
        if deps is not None:
            modules.update(_modules(deps, skip=None, label="site-packages/",
                                    skip_dirs=_DEPS_SKIP_DIRS))
            data = _data_files(deps)
        sources = [entry.read_text(encoding="utf-8"),
                   *(source for _f, _p, source in modules.values())]
        preload = _external_imports(sources[0], sources[1:], set(modules)) | codecs(sources)

        glue = work / "glue"
        glue.mkdir()
        glue_source = resources.files("wasmforge.languages.glue") / "python_main.py"
        (glue / "wasmforge_main.py").write_text(glue_source.read_text(encoding="utf-8"))
        (glue / "wasmforge_sources.py").write_text(
            "# generated by wasmforge: the project's Python sources\n"
            f"ENTRY = {(ENTRY, entry.read_text(encoding='utf-8'))!r}\n"
            f"MODULES = {modules!r}\n"
            f"PRELOAD = {sorted(preload)!r}\n"
            f"DATA = {data!r}\n", encoding="utf-8")

        out = work / f"{project.name}.wasm"
        # componentize-py adds the site-packages of $VIRTUAL_ENV (else of pipenv, else of the
        # host's python3) to the guest's path: an empty one keeps the host's packages out.
        no_site = work / "no-site"
        (no_site / "lib" / "site-packages").mkdir(parents=True)
        env = {**python_with(target), "VIRTUAL_ENV": str(no_site)}
        try:
            run_tool([sys.executable, "-c", _RUN_CPY, "-q", "-d", work / "wit", "-w", wit.WORLD,
                      "componentize", "-p", glue, "wasmforge_main", "-o", out],
                     what="componentize-py", cwd=work, env=env)
        except BuildFailed as failed:
            raise BuildFailed(_python_error(failed.what), where=str(project.root),
                              fix="fix the error above and build again") from None
        return BuildOutput(out, "component")


def _python_files(root: Path, skip_dirs: frozenset[str] = _SKIP_DIRS) -> list[Path]:
    return project_files(root, lambda path: path.suffix == ".py", skip_dirs=skip_dirs)


def _modules(root: Path, *, skip: Path | None, label: str = "",
             skip_dirs: frozenset[str] = _SKIP_DIRS) -> dict[str, tuple[str, bool, str]]:
    """Module name -> (file name shown in tracebacks, is a package, source)."""
    modules: dict[str, tuple[str, bool, str]] = {}
    for path in _python_files(root, skip_dirs):
        if path == skip:
            continue
        rel = path.relative_to(root)
        if any(not part.isidentifier() for part in rel.parts[:-1]) or not rel.stem.isidentifier():
            continue  # not importable (e.g. "my-tool.py", "bin/")
        is_package = rel.name == "__init__.py"
        parts = rel.parts[:-1] if is_package else (*rel.parts[:-1], rel.stem)
        if not parts:
            continue
        source = path.read_text(encoding="utf-8", errors="replace")
        modules[".".join(parts)] = (label + rel.as_posix(), is_package, source)
    for name in list(modules):  # folders without __init__.py: namespace packages
        parts = name.split(".")
        for depth in range(1, len(parts)):
            parent = ".".join(parts[:depth])
            if parent not in modules:
                folder = "/".join(parts[:depth])
                modules[parent] = (f"{label}{folder}/__init__.py", True, "")
    return modules


def _data_files(site: Path) -> dict[str, bytes]:
    """The bundled packages' data files (dateutil's time zones in tzdata, templates), by
    path under site-packages: the guest reads them through importlib.resources."""
    data = {}
    for path in project_files(site, lambda p: p.suffix not in _NOT_DATA,
                              skip_dirs=_DEPS_SKIP_DIRS):
        rel = path.relative_to(site)
        if len(rel.parts) > 1 and rel.parts[0].isidentifier() and rel.parts[0] != "bin":
            data[rel.as_posix()] = path.read_bytes()
    return data


def _install_dependencies(root: Path, dest: Path) -> Path | None:
    requirements = root / REQUIREMENTS
    if not requirements.is_file() or not any(
            line.strip() and not line.strip().startswith("#")
            for line in requirements.read_text(encoding="utf-8").splitlines()):
        return None
    install_for_guest(requirements, dest)
    native = sorted(p for p in dest.rglob("*") if p.suffix in NATIVE_SUFFIXES
                    or ".so." in p.name)
    if native:  # a "pure" wheel that ships a compiled library
        owner = _owner(dest, native[0])
        raise BuildFailed(f"{owner} needs native code ({native[0].relative_to(dest)}), which "
                          "cannot run inside a WebAssembly component", where=str(requirements),
                          fix="it would need a WASI (wasm32-wasi) build of it; use a "
                              "pure-Python package instead")
    return dest


def _owner(site: Path, file: Path) -> str:
    rel = file.relative_to(site).as_posix()
    for record in site.glob("*.dist-info/RECORD"):
        if any(line.split(",", 1)[0] == rel
               for line in record.read_text(encoding="utf-8").splitlines()):
            return "package " + record.parent.name.removesuffix(".dist-info").split("-")[0]
    return f"package {file.relative_to(site).parts[0]}"


def _imports(source: str, package: str | None = None) -> set[str]:
    """Every module a source may import, at any depth (function-level imports included);
    relative imports are resolved against `package`."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()  # componentize-py reports it with the guest's own compiler
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                if package is None:
                    continue
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            if base:
                names.add(base)
                names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _external_imports(entry: str, sources: list[str], local: set[str]) -> set[str]:
    """Standard-library modules the user's and bundled code import, with the modules those
    import in turn (lazy, function-level imports too, read from this interpreter's standard
    library): the glue loads them at build time, because the component has no file system
    to import from at run time."""
    local_roots = {module.split(".")[0] for module in local}
    direct = {name for source in [entry, *sources] for name in _imports(source)
              if name.split(".")[0] not in local_roots}
    pending = list(direct)
    found: set[str] = set()
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in found or name in seen or name.split(".")[0] not in _STDLIB:
            continue
        if name.split(".")[0] in _NOT_TRANSITIVE and name not in direct:
            continue
        seen.add(name)
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError, AttributeError):
            spec = None
        if spec is None:  # "package.attribute", or a module this interpreter lacks
            if "." not in name:
                found.add(name)
            continue
        found.add(name)
        if not spec.origin or not spec.origin.endswith(".py"):
            continue
        package = name if spec.submodule_search_locations is not None else name.rpartition(".")[0]
        pending.extend(_imports(Path(spec.origin).read_text(encoding="utf-8", errors="replace"),
                                package or None))
    return found


def _python_error(message: str) -> str:
    """componentize-py's failure, cut to the guest's Python traceback (no Rust backtrace)."""
    text = message.split("\nCaused by:", 1)[0].split("\nStack backtrace:", 1)[0]
    marker = "AssertionError: "
    if marker in text:
        text = text.split(marker, 1)[1]
    lines = text.strip().splitlines()
    user = [i for i, line in enumerate(lines) if line.lstrip().startswith('File "')
            and "wasmforge_main.py" not in line and "<frozen " not in line]
    if user:  # start at the user's own frame, dropping the glue's
        lines = lines[user[0]:]
    return "componentize-py failed:\n" + "\n".join(lines) + "\n"


driver = PythonDriver()
